import assert from "node:assert/strict";
import { waitAtMost, withDeadline } from "./deadline.ts";
import { RelayError } from "../errors/relay_error.ts";

const timedOut = () => new RelayError("DEADLINE_EXCEEDED", "too slow");
const later = <T>(ms: number, value: T) =>
  new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

Deno.test("withDeadline settles like the promise when it is in time", async () => {
  assert.equal(
    await withDeadline(later(5, "answer"), 200, { onTimeout: timedOut }),
    "answer",
  );
  await assert.rejects(
    withDeadline(Promise.reject(new Error("own failure")), 200, {
      onTimeout: timedOut,
    }),
    /own failure/,
  );
});

Deno.test("withDeadline rejects with onTimeout() once the time is up", async () => {
  const slow = later(200, "late");
  const started = performance.now();
  await assert.rejects(
    withDeadline(slow, 20, { onTimeout: timedOut }),
    (error: RelayError) => error.code === "DEADLINE_EXCEEDED",
  );
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 15, `gave up after ${elapsed} ms`);
  await slow; // the work itself runs on: the sanitizer wants its timer done
});

Deno.test("withDeadline clears its timer when the promise wins", async () => {
  // A timer left behind fails the test's resource sanitizer.
  assert.equal(
    await withDeadline(Promise.resolve(1), 60_000, { onTimeout: timedOut }),
    1,
  );
  await assert.rejects(
    withDeadline(Promise.reject(new Error("x")), 60_000, {
      onTimeout: timedOut,
    }),
  );
});

Deno.test("withDeadline ends early when its signal aborts", async () => {
  const controller = new AbortController();
  const never = new Promise<never>(() => {});
  const waiting = withDeadline(never, 60_000, {
    onTimeout: timedOut,
    signal: controller.signal,
    onAbort: () => new RelayError("CANCELLED", "given up"),
  });
  setTimeout(() => controller.abort(), 5);
  await assert.rejects(
    waiting,
    (error: RelayError) => error.code === "CANCELLED",
  );

  const aborted = AbortSignal.abort(new Error("already"));
  await assert.rejects(
    withDeadline(never, 60_000, { onTimeout: timedOut, signal: aborted }),
    /already/,
    "without onAbort: the signal's reason",
  );
});

Deno.test("withDeadline forgets its signal listener once settled", async () => {
  const controller = new AbortController();
  let aborts = 0;
  await withDeadline(Promise.resolve(), 1000, {
    onTimeout: timedOut,
    signal: controller.signal,
    onAbort: () => {
      aborts++;
      return new Error("aborted");
    },
  });
  controller.abort();
  assert.equal(aborts, 0);
});

Deno.test("waitAtMost tells whether the promise fulfilled in time", async () => {
  assert.equal(await waitAtMost(later(5, "x"), 200), true);
  const slow = later(200, "late");
  const started = performance.now();
  assert.equal(await waitAtMost(slow, 20), false);
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 15, `gave up after ${elapsed} ms`);
  await slow;
  assert.equal(await waitAtMost(Promise.resolve(), 60_000), true);
  await assert.rejects(
    waitAtMost(Promise.reject(new Error("boom")), 60_000),
    /boom/,
  );
});
