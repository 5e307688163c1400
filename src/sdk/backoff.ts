// Exponential backoff with full random jitter: sleep = random(0, min(max, base * 2^attempt)).
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /**
   * Ceiling while the relay's address refuses connections: nothing listens
   * there (a relay restarting), the kernel answers, and retrying costs the
   * relay nothing. Failures that reach the relay grow towards `maxMs`.
   */
  refusedMaxMs?: number;
  random?: () => number;
}

export const DEFAULT_REFUSED_MAX_MS = 2000;

/**
 * The attempt number after a failure. A refused connection grows it only
 * until its ceiling reaches `refusedMaxMs`, so a fleet waiting for a
 * restarting relay comes back within that much of its return.
 */
export function nextAttempt(
  attempt: number,
  refused: boolean,
  options: BackoffOptions,
): number {
  if (!refused) return attempt + 1;
  const refusedMaxMs = options.refusedMaxMs ?? DEFAULT_REFUSED_MAX_MS;
  return options.initialMs * 2 ** (attempt + 1) <= refusedMaxMs
    ? attempt + 1
    : attempt;
}

export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const ceiling = Math.min(
    options.maxMs,
    options.initialMs * 2 ** Math.min(attempt, 30),
  );
  return Math.floor((options.random ?? Math.random)() * ceiling);
}

/** Resolves after `ms`, or early (without error) when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
