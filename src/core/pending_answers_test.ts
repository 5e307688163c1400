import assert from "node:assert/strict";
import { PendingAnswers } from "./pending_answers.ts";

Deno.test("settled resolves once every answer has, including one added while waiting", async () => {
  const answers = new PendingAnswers();
  const first = Promise.withResolvers<void>();
  const second = Promise.withResolvers<void>();
  answers.add(first.promise);
  let done = false;
  const waiting = answers.settled(Date.now() + 10_000).then(() => done = true);
  answers.add(second.promise);
  first.resolve();
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(done, false, "still waiting for the second answer");
  assert.equal(answers.size, 1);
  second.resolve();
  await waiting;
  assert.equal(answers.size, 0);
});

Deno.test("settled gives up at the deadline, and at once without answers", async () => {
  const answers = new PendingAnswers();
  const started = performance.now();
  await answers.settled(Date.now() + 10_000);
  assert.ok(performance.now() - started < 500, "nothing to wait for");
  const stuck = Promise.withResolvers<void>();
  answers.add(stuck.promise);
  await answers.settled(Date.now() + 30);
  const waited = performance.now() - started;
  assert.ok(waited >= 25 && waited < 1000, `waited ${waited} ms`);
  assert.equal(answers.size, 1);
  stuck.resolve();
  await stuck.promise;
});
