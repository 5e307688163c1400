// A bench helper process (Deno script) that reports one JSON object per line
// on stdout and stops when its stdin closes. Its stdout is drained all the
// time: a worker blocked on a full pipe would stall what it serves (device
// workers print a status line every 200 ms).
export type Message = Record<string, unknown>;

interface Waiter {
  match: (message: Message) => boolean;
  resolve: (message: Message) => void;
}

export class JsonLinesChild {
  readonly name: string;
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #waiters = new Set<Waiter>();
  readonly #listeners: ((message: Message) => void)[] = [];
  #stderrTail: string[] = [];
  #closing: Promise<void> | undefined;

  constructor(
    name: string,
    script: string,
    args: string[],
    env: Record<string, string> = {},
  ) {
    this.name = name;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", script, ...args],
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.#readLines(this.#child.stdout, (line) => {
      if (!line.startsWith("{")) return;
      let message: Message;
      try {
        message = JSON.parse(line);
      } catch {
        return;
      }
      for (const listener of this.#listeners) listener(message);
      for (const waiter of this.#waiters) {
        if (waiter.match(message)) {
          this.#waiters.delete(waiter);
          waiter.resolve(message);
        }
      }
    });
    this.#readLines(this.#child.stderr, (line) => {
      this.#stderrTail.push(line);
      this.#stderrTail = this.#stderrTail.slice(-20);
    });
  }

  get pid(): number {
    return this.#child.pid;
  }

  onMessage(listener: (message: Message) => void): void {
    this.#listeners.push(listener);
  }

  /** The first message (from now on) that `match` accepts. */
  async next(
    match: (message: Message) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<Message> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let waiter: Waiter | undefined;
    const failure = (reason: string) =>
      new Error(
        `${this.name}: ${reason} waiting for ${what}\n${
          this.#stderrTail.join("\n")
        }`,
      );
    try {
      return await Promise.race([
        new Promise<Message>((resolve) => {
          waiter = { match, resolve };
          this.#waiters.add(waiter);
        }),
        this.#child.status.then((status) => {
          throw failure(`exited with code ${status.code}`);
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(failure(`timed out after ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (waiter) this.#waiters.delete(waiter);
    }
  }

  /** Closes stdin (the worker's cue to stop); SIGKILL after `graceMs`. */
  close(graceMs = 5000): Promise<void> {
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
    })();
    return this.#closing;
  }

  async #readLines(
    stream: ReadableStream<Uint8Array>,
    onLine: (line: string) => void,
  ): Promise<void> {
    let partial = "";
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        const lines = (partial + chunk).split("\n");
        partial = lines.pop()!;
        for (const line of lines) onLine(line);
      }
    } catch {
      // the process ended
    }
  }
}
