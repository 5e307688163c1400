// How late the relay's event loop runs a timer: the time any message, request
// or heartbeat waited behind other work (GC, a burst of TLS records, a slow
// handler) before the relay got to it. A relay that answers slowly with lag
// near zero is waiting on its peers; one with high lag is itself the queue.

/** Default probe period: ten wake-ups a second cost nothing measurable. */
export const EVENT_LOOP_LAG_INTERVAL_MS = 100;

export class EventLoopLagProbe {
  readonly #intervalMs: number;
  readonly #observe: (lagSeconds: number) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Calls `observe` with each wake-up's lag, in seconds, until `close()`. */
  constructor(
    observe: (lagSeconds: number) => void,
    intervalMs = EVENT_LOOP_LAG_INTERVAL_MS,
  ) {
    this.#observe = observe;
    this.#intervalMs = intervalMs;
    this.#schedule();
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    const due = performance.now() + this.#intervalMs;
    this.#timer = setTimeout(() => {
      this.#observe(Math.max(0, performance.now() - due) / 1000);
      this.#schedule();
    }, this.#intervalMs);
    // The probe alone must not keep a process alive.
    Deno.unrefTimer(this.#timer);
  }
}
