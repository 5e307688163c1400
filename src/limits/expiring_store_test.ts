import assert from "node:assert/strict";
import {
  ExpiringStore,
  type ExpiringStoreOptions,
  type Retained,
} from "./expiring_store.ts";

class Conflict extends Error {}

/** Keeps every string, counting one byte a character. */
const keepAll = (value: string): Retained<string> => ({
  value,
  bytes: value.length,
});

/** A store over an injected clock; tests move time with `advance`. */
function store(options: Partial<ExpiringStoreOptions<string>> = {}) {
  let now = 1_000_000;
  const results = new ExpiringStore<string>({
    maxEntries: 100,
    ttlMs: 1000,
    maxBytes: 1024,
    retain: keepAll,
    conflict: () => new Conflict("key reused"),
    now: () => now,
    ...options,
  });
  return { results, advance: (ms: number) => now += ms };
}

/** An execute function that counts its runs and resolves to "run N". */
function counter() {
  let runs = 0;
  return {
    get runs() {
      return runs;
    },
    execute: () => Promise.resolve(`run ${++runs}`),
  };
}

/** An execute function whose runs all wait for `release` (or `fail`); counts its runs. */
function gated() {
  const gate = Promise.withResolvers<string>();
  let runs = 0;
  return {
    get runs() {
      return runs;
    },
    execute: () => {
      runs++;
      return gate.promise;
    },
    release: (value: string) => gate.resolve(value),
    fail: (error: Error) => gate.reject(error),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An execute function resolving to a result of `length` bytes. */
const sized = (length: number) => () => Promise.resolve("x".repeat(length));

Deno.test("each key runs once; a duplicate gets the kept result", async () => {
  const { results } = store();
  const work = counter();
  assert.deepEqual(await results.runOnce("k", "f", work.execute), {
    value: "run 1",
    source: "executed",
  });
  assert.deepEqual(await results.runOnce("k", "f", work.execute), {
    value: "run 1",
    source: "cached",
  });
  assert.equal((await results.runOnce("k2", "f", work.execute)).value, "run 2");
  assert.equal(work.runs, 2);
  results.close();
});

Deno.test("a duplicate that arrives while the first runs joins it", async () => {
  const { results } = store();
  const slow = gated();
  const first = results.runOnce("k", "f", slow.execute);
  const second = results.runOnce("k", "f", slow.execute);
  slow.release("slow");
  assert.deepEqual(await first, { value: "slow", source: "executed" });
  assert.deepEqual(await second, { value: "slow", source: "joined" });
  assert.equal(slow.runs, 1);
  results.close();
});

Deno.test("a key reused with another fingerprint gets conflict(), kept or running", async () => {
  const { results } = store();
  const work = counter();
  await results.runOnce("k", "f", work.execute);
  await assert.rejects(results.runOnce("k", "other", work.execute), Conflict);
  const slow = gated();
  const running = results.runOnce("r", "f", slow.execute);
  await assert.rejects(results.runOnce("r", "other", work.execute), Conflict);
  slow.release("x");
  await running;
  assert.equal(work.runs, 1);
  results.close();
});

Deno.test("a rejected run is not kept: waiting duplicates share it, later ones run again", async () => {
  const { results } = store();
  const slow = gated();
  const first = results.runOnce("k", "f", slow.execute);
  const joined = results.runOnce("k", "f", () => Promise.resolve("never"));
  slow.fail(new Error("interrupted"));
  await assert.rejects(first, /interrupted/);
  await assert.rejects(joined, /interrupted/);
  assert.equal(results.size, 0);
  const work = counter();
  assert.equal(
    (await results.runOnce("k", "f", work.execute)).source,
    "executed",
  );
  assert.equal(work.runs, 1);
  results.close();
});

Deno.test("what retain declines is returned but not kept", async () => {
  const { results } = store({
    retain: (value) => value === "fail" ? undefined : keepAll(value),
  });
  let runs = 0;
  const fail = () => {
    runs++;
    return Promise.resolve("fail");
  };
  assert.equal((await results.runOnce("k", "f", fail)).value, "fail");
  assert.equal((await results.runOnce("k", "f", fail)).source, "executed");
  assert.equal(runs, 2);
  assert.equal(results.size, 0);
  results.close();
});

Deno.test("what retain returns is what is kept and what the byte bound counts", async () => {
  const { results } = store({
    retain: (value) => ({ value: value.toUpperCase(), bytes: 100 }),
  });
  assert.equal((await results.runOnce("k", "f", sized(1))).value, "x");
  assert.equal((await results.runOnce("k", "f", sized(1))).value, "X");
  assert.equal(results.bytes, 100);
  results.close();
});

Deno.test("results expire after the TTL and are swept from the oldest end on every run", async () => {
  const { results, advance } = store({ ttlMs: 100 });
  const work = counter();
  await results.runOnce("a", "f", work.execute);
  await results.runOnce("b", "f", work.execute);
  advance(60);
  await results.runOnce("c", "f", work.execute);
  assert.equal(results.size, 3);
  assert.equal(results.bytes, 15);
  advance(40); // a and b are 100 ms old; c has 60 ms left
  await results.runOnce("d", "f", work.execute);
  assert.equal(results.size, 2, "a lookup of another key sweeps them");
  assert.equal(results.bytes, 10);
  assert.equal(
    (await results.runOnce("c", "f", work.execute)).source,
    "cached",
  );
  assert.equal(
    (await results.runOnce("a", "f", work.execute)).source,
    "executed",
  );
  // An expired key may come back as another request.
  advance(100);
  assert.equal(
    (await results.runOnce("a", "g", work.execute)).source,
    "executed",
  );
  results.close();
});

Deno.test("the sweep timer empties the store as its results expire, without any use", async () => {
  const { results, advance } = store({ ttlMs: 20 });
  await results.runOnce("a", "f", sized(4));
  await results.runOnce("b", "f", sized(2));
  assert.equal(results.bytes, 6);
  // Timers fire in deadline order: these sleeps outlast the store's timer.
  advance(19);
  await sleep(30);
  assert.equal(results.size, 2, "nothing expired when the timer fired");
  advance(1);
  await sleep(10);
  assert.equal(results.size, 0, "the timer was armed again, with slack");
  assert.equal(results.bytes, 0);
  results.close();
});

Deno.test("one sweep timer at a time, unref'd, and cleared by close", async () => {
  // The store arms the global timers: watch them for the length of the test.
  const pending = new Set<unknown>();
  const unrefed = new Set<unknown>();
  const { setTimeout: set, clearTimeout: clear } = globalThis;
  const unref = Deno.unrefTimer;
  Deno.unrefTimer = (id) => {
    unrefed.add(id);
    unref(id);
  };
  globalThis.setTimeout = ((run: () => void, ms: number) => {
    const id = set(() => {
      pending.delete(id);
      run();
    }, ms);
    pending.add(id);
    return id;
  }) as typeof setTimeout;
  globalThis.clearTimeout = (id) => {
    pending.delete(id);
    clear(id);
  };
  try {
    const { results } = store();
    await results.runOnce("a", "f", sized(1));
    await results.runOnce("b", "f", sized(1));
    assert.equal(pending.size, 1);
    assert.deepEqual(
      [...unrefed],
      [...pending],
      "kept results never keep a process alive",
    );
    results.close();
    assert.equal(pending.size, 0);
  } finally {
    globalThis.setTimeout = set;
    globalThis.clearTimeout = clear;
    Deno.unrefTimer = unref;
  }
});

Deno.test("the entry bound drops the oldest results", async () => {
  const { results } = store({ maxEntries: 2 });
  const work = counter();
  for (const key of ["a", "b", "c"]) {
    await results.runOnce(key, "f", work.execute);
  }
  assert.equal(results.size, 2);
  assert.equal(
    (await results.runOnce("c", "f", work.execute)).source,
    "cached",
  );
  assert.equal(
    (await results.runOnce("b", "f", work.execute)).source,
    "cached",
  );
  assert.equal(
    (await results.runOnce("a", "f", work.execute)).source,
    "executed",
  );
  results.close();
});

Deno.test("the byte bound drops the oldest results; a larger result is not kept", async () => {
  const { results } = store({ maxBytes: 10 });
  await results.runOnce("a", "f", sized(4));
  await results.runOnce("b", "f", sized(4));
  assert.equal(results.bytes, 8);
  await results.runOnce("c", "f", sized(4));
  assert.equal(results.size, 2, "a went to make room");
  assert.equal(results.bytes, 8);
  assert.equal((await results.runOnce("a", "f", sized(4))).source, "executed");
  const big = await results.runOnce("big", "f", sized(11));
  assert.equal(big.value.length, 11, "still returned");
  assert.equal(
    (await results.runOnce("big", "f", sized(11))).source,
    "executed",
  );
  assert.equal(results.bytes, 8, "nothing dropped for a result never kept");
  results.close();
});

Deno.test("close forgets every result; later runs execute and are not kept", async () => {
  const { results } = store();
  const work = counter();
  await results.runOnce("k", "f", work.execute);
  const slow = gated();
  const running = results.runOnce("r", "f", slow.execute);
  results.close();
  assert.equal(results.size, 0);
  assert.equal(results.bytes, 0);
  slow.release("late");
  assert.equal((await running).value, "late");
  assert.equal(results.size, 0, "a run that ends after close is not kept");
  assert.equal(
    (await results.runOnce("k", "f", work.execute)).source,
    "executed",
  );
  assert.equal(
    (await results.runOnce("k", "g", work.execute)).source,
    "executed",
  );
  assert.equal(results.size, 0);
});

Deno.test("maxEntries 0 turns the store off: every run executes, none joins", async () => {
  const { results } = store({ maxEntries: 0 });
  const slow = gated();
  const first = results.runOnce("k", "f", slow.execute);
  const second = results.runOnce("k", "other", slow.execute);
  slow.release("x");
  assert.equal((await first).source, "executed");
  assert.equal((await second).source, "executed");
  assert.equal(slow.runs, 2);
  assert.equal(results.size, 0);
  results.close();
});

Deno.test("bad limits are refused", () => {
  for (
    const limits of [
      { maxEntries: -1, ttlMs: 1, maxBytes: 1 },
      { maxEntries: 1, ttlMs: NaN, maxBytes: 1 },
      { maxEntries: 1, ttlMs: 1, maxBytes: Infinity },
    ]
  ) {
    assert.throws(
      () =>
        new ExpiringStore<string>({
          ...limits,
          retain: keepAll,
          conflict: () => new Conflict(),
        }),
      RangeError,
    );
  }
});
