// The one deadline helper: a wait bounded by a timer, which is cleared as soon
// as the wait ends either way (a pending timer would keep the process and
// whatever its callback holds alive). The work itself is not cancelled: a
// promise cannot be stopped, so the caller decides what happens to late work.

export interface DeadlineOptions {
  /** The error the wait rejects with once the time is up. */
  onTimeout: () => Error;
  /** Ends the wait early, rejecting with `onAbort()` (default: the signal's reason). */
  signal?: AbortSignal;
  onAbort?: () => Error;
}

/** Settles like `promise`, or rejects with `onTimeout()` once `ms` have passed first. */
export async function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  options: DeadlineOptions,
): Promise<T> {
  const { signal } = options;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(options.onTimeout()), ms);
    if (signal === undefined) return;
    onAbort = () => reject(options.onAbort?.() ?? signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * Waits for `promise`, at most `ms`: true when it fulfilled in time, false
 * when the time ran out first (it keeps running); rejects as `promise` does.
 */
export async function waitAtMost(
  promise: Promise<unknown>,
  ms: number,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), expired]);
  } finally {
    clearTimeout(timer);
  }
}
