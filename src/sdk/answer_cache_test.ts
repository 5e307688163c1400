import assert from "node:assert/strict";
import { RelayError } from "../errors/relay_error.ts";
import {
  type Answer,
  AnswerCache,
  type AnswerCacheOptions,
  requestFingerprint,
} from "./answer_cache.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const ok = (text: string): Answer => ({
  payload: bytes(text),
  error: "OK",
  errorMessage: "",
});
const text = (answer: Answer) => new TextDecoder().decode(answer.payload);

function cache(limits: Partial<AnswerCacheOptions> = {}) {
  let now = 1_000_000;
  const answers = new AnswerCache({
    maxEntries: 100,
    ttlMs: 1000,
    maxBytes: 1 << 20,
    now: () => now,
    ...limits,
  });
  return {
    answers,
    advance: (ms: number) => now += ms,
  };
}

/** An execute function that counts its runs and answers "run N". */
function counter() {
  let runs = 0;
  return {
    get runs() {
      return runs;
    },
    execute: () => Promise.resolve(ok(`run ${++runs}`)),
  };
}

const isInvalidRequest = (error: unknown) =>
  error instanceof RelayError && error.code === "INVALID_REQUEST" &&
  /already used for a different request/.test(error.message);

Deno.test("a duplicate gets the kept answer; the first runs once", async () => {
  const { answers } = cache();
  const work = counter();
  const first = await answers.run("k", "f", work.execute);
  const again = await answers.run("k", "f", work.execute);
  assert.equal(first.source, "executed");
  assert.equal(again.source, "cached");
  assert.equal(text(again.answer), "run 1");
  assert.equal(work.runs, 1);
  // Another key is another request.
  assert.equal(
    text((await answers.run("k2", "f", work.execute)).answer),
    "run 2",
  );
  answers.close();
});

Deno.test("a duplicate that arrives while the first runs joins it", async () => {
  const { answers } = cache();
  const release = Promise.withResolvers<Answer>();
  let runs = 0;
  const execute = () => {
    runs++;
    return release.promise;
  };
  const first = answers.run("k", "f", execute);
  const second = answers.run("k", "f", execute);
  release.resolve(ok("slow"));
  assert.equal((await first).source, "executed");
  const joined = await second;
  assert.equal(joined.source, "joined");
  assert.equal(text(joined.answer), "slow");
  assert.equal(runs, 1);
  answers.close();
});

Deno.test("a key reused with another fingerprint is refused, kept or running", async () => {
  const { answers } = cache();
  const work = counter();
  await answers.run("k", "f", work.execute);
  await assert.rejects(
    answers.run("k", "other", work.execute),
    isInvalidRequest,
  );
  const release = Promise.withResolvers<Answer>();
  const running = answers.run("r", "f", () => release.promise);
  await assert.rejects(
    answers.run("r", "other", work.execute),
    isInvalidRequest,
  );
  release.resolve(ok("x"));
  await running;
  assert.equal(work.runs, 1);
  answers.close();
});

Deno.test("a rejected run is not kept: waiting duplicates share it, later ones run again", async () => {
  const { answers } = cache();
  const release = Promise.withResolvers<Answer>();
  const first = answers.run("k", "f", () => release.promise);
  const joined = answers.run("k", "f", () => Promise.resolve(ok("never")));
  release.reject(new RelayError("UNAVAILABLE", "interrupted"));
  await assert.rejects(first, /interrupted/);
  await assert.rejects(joined, /interrupted/);
  assert.equal(answers.size, 0);
  const work = counter();
  assert.equal((await answers.run("k", "f", work.execute)).source, "executed");
  assert.equal(work.runs, 1);
  answers.close();
});

Deno.test("error answers that resolve are kept like any other", async () => {
  const { answers } = cache();
  let runs = 0;
  const execute = (): Promise<Answer> => {
    runs++;
    return Promise.resolve({
      payload: new Uint8Array(0),
      error: "INVALID_REQUEST",
      errorMessage: "no such item",
    });
  };
  await answers.run("k", "f", execute);
  const again = await answers.run("k", "f", execute);
  assert.equal(again.source, "cached");
  assert.equal(again.answer.errorMessage, "no such item");
  assert.equal(runs, 1);
  answers.close();
});

Deno.test("answers expire after the TTL and are swept from the oldest end", async () => {
  const { answers, advance } = cache({ ttlMs: 1000 });
  const work = counter();
  await answers.run("a", "f", work.execute);
  advance(600);
  await answers.run("b", "f", work.execute);
  advance(400);
  // "a" is 1000 ms old: gone (a lookup of another key sweeps it too).
  await answers.run("c", "f", work.execute);
  assert.equal(answers.size, 2);
  assert.equal((await answers.run("b", "f", work.execute)).source, "cached");
  assert.equal((await answers.run("a", "f", work.execute)).source, "executed");
  assert.equal(work.runs, 4);
  advance(1000);
  await answers.run("d", "f", work.execute);
  assert.equal(answers.size, 1, "only the newest is left");
  answers.close();
});

Deno.test("the sweep timer empties the cache as time passes, without any use", async () => {
  const answers = new AnswerCache({
    maxEntries: 100,
    ttlMs: 30,
    maxBytes: 1 << 20,
  });
  try {
    await answers.run("a", "f", () => Promise.resolve(ok("aaaa")));
    await answers.run("b", "f", () => Promise.resolve(ok("bb")));
    assert.equal(answers.size, 2);
    assert.equal(answers.bytes, 6);
    const deadline = Date.now() + 2000;
    while (answers.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(answers.size, 0);
    assert.equal(answers.bytes, 0);
  } finally {
    answers.close();
  }
});

Deno.test("the entry bound drops the oldest answers", async () => {
  const { answers } = cache({ maxEntries: 2 });
  const work = counter();
  for (const key of ["a", "b", "c"]) await answers.run(key, "f", work.execute);
  assert.equal(answers.size, 2);
  assert.equal((await answers.run("c", "f", work.execute)).source, "cached");
  assert.equal((await answers.run("a", "f", work.execute)).source, "executed");
  answers.close();
});

Deno.test("the byte bound drops the oldest answers; a larger answer is not kept", async () => {
  const { answers } = cache({ maxBytes: 10 });
  const answer = (size: number) => () =>
    Promise.resolve({ ...ok(""), payload: new Uint8Array(size) });
  await answers.run("a", "f", answer(4));
  await answers.run("b", "f", answer(4));
  assert.equal(answers.bytes, 8);
  await answers.run("c", "f", answer(4));
  assert.equal(answers.size, 2, "a went to make room");
  assert.equal(answers.bytes, 8);
  const big = await answers.run("big", "f", answer(11));
  assert.equal(big.answer.payload.byteLength, 11, "still answered");
  assert.equal(answers.size, 2);
  assert.equal((await answers.run("big", "f", answer(11))).source, "executed");
  answers.close();
});

Deno.test("a kept answer has its own buffer, not a view into a larger one", async () => {
  const { answers } = cache();
  const frame = new Uint8Array(64 * 1024);
  frame.set(bytes("answer"), 100);
  const view = frame.subarray(100, 106);
  await answers.run(
    "k",
    "f",
    () => Promise.resolve({ ...ok(""), payload: view }),
  );
  frame.fill(0);
  const kept = (await answers.run("k", "f", counter().execute)).answer.payload;
  assert.equal(kept.buffer.byteLength, 6);
  assert.equal(new TextDecoder().decode(kept), "answer");
  answers.close();
});

Deno.test("maxEntries 0 turns the cache off: every run executes", async () => {
  const { answers } = cache({ maxEntries: 0 });
  const work = counter();
  await answers.run("k", "f", work.execute);
  const again = await answers.run("k", "other", work.execute);
  assert.equal(again.source, "executed");
  assert.equal(work.runs, 2);
  assert.equal(answers.size, 0);
  answers.close();
});

Deno.test("bad limits are refused", () => {
  assert.throws(
    () => new AnswerCache({ maxEntries: -1, ttlMs: 1, maxBytes: 1 }),
    RangeError,
  );
  assert.throws(
    () => new AnswerCache({ maxEntries: 1, ttlMs: NaN, maxBytes: 1 }),
    RangeError,
  );
});

Deno.test("fingerprints tell method, payload and encryption apart", () => {
  const base = requestFingerprint("set", bytes("1"), true);
  assert.equal(requestFingerprint("set", bytes("1"), true), base);
  assert.notEqual(requestFingerprint("get", bytes("1"), true), base);
  assert.notEqual(requestFingerprint("set", bytes("2"), true), base);
  assert.notEqual(requestFingerprint("set", bytes("1"), false), base);
});
