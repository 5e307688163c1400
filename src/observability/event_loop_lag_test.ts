import assert from "node:assert/strict";
import { EventLoopLagProbe } from "./event_loop_lag.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("the event loop lag probe reports a blocked loop and stops on close", async () => {
  const lags: number[] = [];
  const probe = new EventLoopLagProbe((seconds) => lags.push(seconds), 10);
  try {
    await sleep(35);
    assert.ok(lags.length >= 1, "wake-ups while idle");
    // Block the loop for 80 ms: the next wake-up is at least 70 ms late.
    const blockedUntil = performance.now() + 80;
    while (performance.now() < blockedUntil) { /* busy */ }
    const seen = lags.length;
    await sleep(30);
    assert.ok(lags.length > seen, "a wake-up after the block");
    assert.ok(
      Math.max(...lags.slice(seen)) >= 0.07,
      `lag after an 80 ms block: ${lags.slice(seen)}`,
    );
  } finally {
    probe.close();
  }
  const count = lags.length;
  await sleep(40);
  assert.equal(lags.length, count, "no wake-ups after close");
});
