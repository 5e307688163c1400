// A bench child process (device_worker.ts, controller_worker.ts, the echo
// client and server workers) with a raised open-file limit, reporting one
// JSON object per line on stdout and taking commands on stdin; closing stdin
// asks it to finish and exit. Its stdout is drained all the time: a worker
// blocked on a full pipe would stall what it serves.
import { FD_LIMIT } from "./relay_process.ts";

export type WorkerLine = { type: string } & Record<string, unknown>;

export interface WorkerOptions {
  /** For error messages (default: the script name). */
  name?: string;
  env?: Record<string, string>;
  /** V8 flags for the child, e.g. ["--expose-gc"]. */
  v8Flags?: string[];
}

/** Scheduling niceness of load generator processes (the relay runs at 0). */
export const GENERATOR_NICENESS = 10;

export class WorkerProcess {
  readonly name: string;
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #listeners = new Set<(line: WorkerLine) => void>();
  readonly #stderrTail: string[] = [];
  readonly #lines: Promise<void>;
  #closing: Promise<void> | undefined;
  /** The newest line of each type. */
  readonly latest = new Map<string, WorkerLine>();

  /** `script`: a path, or relative to this directory. */
  constructor(script: string, args: string[], options: WorkerOptions = {}) {
    const path = new URL(script, import.meta.url).pathname;
    this.name = options.name ?? script;
    this.#child = new Deno.Command("sh", {
      args: [
        "-c",
        // Load generators yield to the relay under test: with 20 of them on
        // 2 cores, fair scheduling left the relay a fraction of a core while
        // its requests queued (it would have a machine of its own).
        `ulimit -n ${FD_LIMIT} && exec nice -n ${GENERATOR_NICENESS} "$@"`,
        "sh",
        Deno.execPath(),
        "run",
        "--allow-all",
        ...(options.v8Flags?.length
          ? [`--v8-flags=${options.v8Flags.join(",")}`]
          : []),
        path,
        ...args,
      ],
      env: options.env ?? {},
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.#lines = this.#readLines();
    this.#keepTail(this.#child.stderr);
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** Calls `listener` with every line from now on. */
  onLine(listener: (line: WorkerLine) => void): void {
    this.#listeners.add(listener);
  }

  async send(command: string): Promise<void> {
    try {
      await this.#stdin.write(new TextEncoder().encode(command + "\n"));
    } catch (error) {
      throw this.#failure("is gone", `to take "${command}"`, error);
    }
  }

  /**
   * The latest line `accept` takes, or the first one after; rejects when the
   * worker exits or `timeoutMs` passes first.
   */
  async waitFor(
    accept: (line: WorkerLine) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<WorkerLine> {
    const seen = [...this.latest.values()].find(accept);
    if (seen) return seen;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let listener: ((line: WorkerLine) => void) | undefined;
    const exited = this.#child.status.then((status) => {
      throw this.#failure(`exited with code ${status.code}`, what);
    });
    // Handled even when another branch wins the race: the worker may exit
    // long after, and an unhandled rejection would end the bench.
    exited.catch(() => {});
    try {
      return await Promise.race([
        new Promise<WorkerLine>((resolve) => {
          listener = (line) => accept(line) && resolve(line);
          this.#listeners.add(listener);
        }),
        exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(this.#failure(`timed out after ${timeoutMs} ms`, what)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (listener) this.#listeners.delete(listener);
    }
  }

  /** Closes stdin and waits for the exit (SIGKILL after `graceMs`). */
  close(graceMs = 10_000): Promise<void> {
    this.#closing ??= (async () => {
      await this.#stdin.close().catch(() => {});
      const timer = setTimeout(() => {
        try {
          this.#child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }, graceMs);
      await this.#child.status;
      clearTimeout(timer);
      await this.#lines;
    })();
    return this.#closing;
  }

  #failure(reason: string, what: string, cause?: unknown): Error {
    return new Error(
      `${this.name} ${reason} waiting for ${what}; its stderr:\n${
        this.#stderrTail.join("\n")
      }`,
      { cause },
    );
  }

  async #readLines(): Promise<void> {
    let buffered = "";
    for await (
      const chunk of this.#child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const text = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (!text.startsWith("{")) continue;
        const line = JSON.parse(text) as WorkerLine;
        this.latest.set(line.type, line);
        for (const listener of [...this.#listeners]) listener(line);
      }
    }
  }

  async #keepTail(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      this.#stderrTail.push(...chunk.split("\n").filter(Boolean));
      this.#stderrTail.splice(0, Math.max(0, this.#stderrTail.length - 20));
    }
  }
}
