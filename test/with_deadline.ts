// Bounds a wait in a test, so a regression fails with a message instead of
// hanging the whole run (agent.waitFor and friends never give up by
// themselves). The timer is src/limits/deadline.ts's, the message the test's.
import { withDeadline as bounded } from "../src/limits/deadline.ts";

/** Resolves like `promise`, or rejects once `ms` have passed. */
export function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  return bounded(promise, ms, {
    onTimeout: () => new Error(`timed out after ${ms} ms waiting for ${what}`),
  });
}
