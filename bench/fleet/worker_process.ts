// A load-generator child process (device_worker.ts, controller_worker.ts)
// with a raised open-file limit, speaking JSON lines on stdout and taking
// commands on stdin. Closing stdin asks it to finish and exit.
import { FD_LIMIT } from "./relay_process.ts";

export type WorkerLine = { type: string } & Record<string, unknown>;

export class WorkerProcess {
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #listeners = new Set<(line: WorkerLine) => void>();
  readonly #stderrTail: string[] = [];
  readonly lines: Promise<void>;
  /** The newest line of each type. */
  readonly latest = new Map<string, WorkerLine>();

  constructor(script: string, args: string[]) {
    const path = new URL(script, import.meta.url).pathname;
    this.#child = new Deno.Command("sh", {
      args: [
        "-c",
        `ulimit -n ${FD_LIMIT} && exec "$@"`,
        "sh",
        Deno.execPath(),
        "run",
        "--allow-all",
        path,
        ...args,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.lines = this.#readLines();
    this.#keepTail(this.#child.stderr);
  }

  get pid(): number {
    return this.#child.pid;
  }

  async send(command: string): Promise<void> {
    try {
      await this.#stdin.write(new TextEncoder().encode(command + "\n"));
    } catch (error) {
      throw new Error(
        `worker ${this.pid} is gone; its stderr:\n${
          this.#stderrTail.join("\n")
        }`,
        { cause: error },
      );
    }
  }

  /** The first line (from now on, or the latest one) that `accept` takes. */
  waitFor(
    accept: (line: WorkerLine) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<WorkerLine> {
    return new Promise((resolve, reject) => {
      const done = (line: WorkerLine) => {
        if (!accept(line)) return;
        clearTimeout(timer);
        this.#listeners.delete(done);
        resolve(line);
      };
      const timer = setTimeout(() => {
        this.#listeners.delete(done);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; worker stderr:\n${
              this.#stderrTail.join("\n")
            }`,
          ),
        );
      }, timeoutMs);
      this.#listeners.add(done);
      for (const line of this.latest.values()) done(line);
    });
  }

  /** Closes stdin and waits for the exit (SIGKILL after `graceMs`). */
  async close(graceMs = 10_000): Promise<void> {
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
    await this.lines;
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
