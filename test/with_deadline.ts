// Bounds a wait in a test, so a regression fails with a message instead of
// hanging the whole run (agent.waitFor and friends never give up by
// themselves).

/** Resolves like `promise`, or rejects once `ms` have passed. */
export async function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
