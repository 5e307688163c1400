// Undo steps run in reverse order exactly once: at the end of the run, when
// a step fails, or on SIGINT/SIGTERM/SIGHUP, so network namespaces, loss
// rules and child processes never outlive the benchmark.

export type Closer = () => Promise<void> | void;

export class CleanupStack {
  readonly #closers: Closer[] = [];
  #running: Promise<void> | undefined;

  defer(closer: Closer): void {
    this.#closers.push(closer);
  }

  /** A stack closed early by its owner, or with this one at the latest. */
  child(): CleanupStack {
    const child = new CleanupStack();
    this.defer(() => child.closeAll());
    return child;
  }

  /** Runs every closer (newest first); one failing does not stop the rest. */
  closeAll(): Promise<void> {
    this.#running ??= (async () => {
      while (this.#closers.length > 0) {
        const closer = this.#closers.pop()!;
        try {
          await closer();
        } catch (error) {
          console.error(`cleanup step failed: ${(error as Error).message}`);
        }
      }
      this.#running = undefined;
    })();
    return this.#running;
  }
}

const SIGNALS: Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT"]
  : ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * On a termination signal, runs `stack.closeAll()` and exits with 128 + the
 * signal number. Returns the function that removes the handlers.
 */
export function closeOnSignals(stack: CleanupStack): () => void {
  const handlers = SIGNALS.map((signal) => {
    const handler = () => {
      console.error(`${signal}: cleaning up before exit`);
      stack.closeAll().finally(() => Deno.exit(128 + signalNumber(signal)));
    };
    Deno.addSignalListener(signal, handler);
    return { signal, handler };
  });
  return () => {
    for (const { signal, handler } of handlers) {
      Deno.removeSignalListener(signal, handler);
    }
  };
}

function signalNumber(signal: Deno.Signal): number {
  return { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 }[signal as string] ?? 0;
}
