import assert from "node:assert/strict";
import { COUNTER_WINDOW, CounterWindow } from "./counter_window.ts";

Deno.test("counters open once, in any order within the window, never below it", () => {
  const window = new CounterWindow();
  assert.equal(window.record(0n), false, "0 is never sealed");
  for (const counter of [5n, 3n, 4n, 1n, 2n]) {
    assert.equal(window.record(counter), true, `first ${counter}`);
    assert.equal(window.record(counter), false, `again ${counter}`);
  }
  const far = 5n + COUNTER_WINDOW;
  assert.equal(window.record(far), true);
  // 5 is now exactly WINDOW below: out of it, refused as a replay.
  assert.equal(window.record(5n), false);
  assert.equal(
    window.record(far - COUNTER_WINDOW + 1n),
    true,
    "the oldest in it",
  );
  // A jump past the window forgets everything below the new highest.
  const jump = far + 10n * COUNTER_WINDOW;
  assert.equal(window.record(jump), true);
  assert.equal(window.record(jump - 1n), true);
  assert.equal(window.record(far), false);
});
