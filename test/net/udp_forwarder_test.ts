import assert from "node:assert/strict";
import { NO_IMPAIRMENT, planDelivery } from "./impairment.ts";
import { mulberry32 } from "./seeded_random.ts";
import { UdpForwarder, type UdpForwarderOptions } from "./udp_forwarder.ts";
import { parseHostPort } from "../../src/config/host_port.ts";

/** A plain UDP socket on an ephemeral loopback port that records what it gets. */
class Peer {
  readonly conn = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  readonly received: { data: Uint8Array; from: Deno.NetAddr }[] = [];
  readonly #loop: Promise<void>;
  #waiters: (() => void)[] = [];

  constructor(echo = false) {
    this.#loop = (async () => {
      try {
        for (;;) {
          const [data, from] = await this.conn.receive();
          const source = from as Deno.NetAddr;
          this.received.push({ data: data.slice(), from: source });
          if (echo) await this.conn.send(data, source);
          for (const wake of this.#waiters.splice(0)) wake();
        }
      } catch (error) {
        if (!(error instanceof Deno.errors.Interrupted)) throw error;
      }
    })();
  }

  get address(): string {
    return `127.0.0.1:${(this.conn.addr as Deno.NetAddr).port}`;
  }

  send(bytes: number[] | Uint8Array, to: string): Promise<number> {
    const { host, port } = parseHostPort(to);
    return this.conn.send(Uint8Array.from(bytes), {
      transport: "udp",
      hostname: host,
      port,
    });
  }

  /** Resolves once `count` datagrams arrived; rejects after `timeoutMs`. */
  async waitFor(count: number, timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`got ${this.received.length} of ${count} datagrams`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, left);
        this.#waiters.push(resolve);
      });
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.conn.close();
    await this.#loop;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A client, an upstream echo server and a forwarder between them. */
async function withLink(
  options: Omit<UdpForwarderOptions, "upstream">,
  body: (
    link: { client: Peer; server: Peer; forwarder: UdpForwarder },
  ) => Promise<void>,
  echo = true,
): Promise<void> {
  const server = new Peer(echo);
  const client = new Peer();
  const forwarder = new UdpForwarder({ ...options, upstream: server.address });
  try {
    await body({ client, server, forwarder });
    assert.deepEqual(forwarder.errors, []);
  } finally {
    await forwarder.close();
    await client.close();
    await server.close();
  }
}

Deno.test("mulberry32 is reproducible per seed and spread over [0, 1)", () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const c = mulberry32(43);
  const first = Array.from({ length: 1000 }, a);
  assert.deepEqual(first, Array.from({ length: 1000 }, b));
  assert.notDeepEqual(first.slice(0, 10), Array.from({ length: 10 }, c));
  assert.ok(first.every((x) => x >= 0 && x < 1));
  const mean = first.reduce((sum, x) => sum + x, 0) / first.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
});

Deno.test("planDelivery drops, delays, holds back and duplicates", () => {
  const always = () => 0; // every probability check passes, no jitter
  const never = () => 0.999;
  assert.deepEqual(
    planDelivery({ ...NO_IMPAIRMENT, lossRate: 0.5 }, always),
    [],
  );
  assert.deepEqual(
    planDelivery({ ...NO_IMPAIRMENT, delayMs: 50, jitterMs: 10 }, never),
    [50 + 0.999 * 10],
  );
  assert.deepEqual(
    planDelivery({
      ...NO_IMPAIRMENT,
      delayMs: 5,
      reorderRate: 0.5,
      reorderDelayMs: 20,
      duplicateRate: 0.5,
    }, always),
    [25, 5],
  );
  // 5% loss from a seeded source: close to 5% over many datagrams.
  const random = mulberry32(7);
  const lost = Array.from(
    { length: 10_000 },
    () => planDelivery({ ...NO_IMPAIRMENT, lossRate: 0.05 }, random),
  ).filter((plan) => plan.length === 0).length;
  assert.ok(lost > 400 && lost < 600, `${lost} of 10000 lost`);
});

Deno.test("forwards datagrams both ways unchanged", async () => {
  await withLink({}, async ({ client, server, forwarder }) => {
    for (let i = 0; i < 20; i++) {
      await client.send([i, 1, 2, 3], forwarder.address);
    }
    await client.waitFor(20);
    assert.deepEqual(
      client.received.map((d) => [...d.data]),
      Array.from({ length: 20 }, (_, i) => [i, 1, 2, 3]),
    );
    // The server saw the forwarder's upstream socket, replies came from the forwarder.
    assert.deepEqual(
      new Set(server.received.map((d) => d.from.port)),
      new Set(forwarder.upstreamPorts),
    );
    assert.ok(client.received.every((d) => d.from.port === forwarder.port));
    assert.deepEqual(forwarder.stats.received, { up: 20, down: 20 });
    assert.deepEqual(forwarder.stats.delivered, { up: 20, down: 20 });
  });
});

Deno.test("each client address gets its own upstream flow", async () => {
  await withLink({}, async ({ client, server, forwarder }) => {
    const other = new Peer();
    try {
      await client.send([1], forwarder.address);
      await other.send([2], forwarder.address);
      await client.waitFor(1);
      await other.waitFor(1);
      assert.deepEqual([...client.received[0]!.data], [1]);
      assert.deepEqual([...other.received[0]!.data], [2]);
      assert.equal(forwarder.upstreamPorts.length, 2);
      assert.equal(new Set(server.received.map((d) => d.from.port)).size, 2);
    } finally {
      await other.close();
    }
  });
});

Deno.test("seeded loss drops exactly the datagrams the plan says", async () => {
  const seed = 1234;
  const impairment = { ...NO_IMPAIRMENT, lossRate: 0.3 };
  // Replay the upstream direction's draws to know the outcome in advance.
  const replay = mulberry32(seed);
  const expected = Array.from(
    { length: 200 },
    () => planDelivery(impairment, replay).length,
  ).reduce((sum, n) => sum + n, 0);
  assert.ok(expected > 100 && expected < 180, `${expected} of 200`);
  await withLink(
    { seed, impairment },
    async ({ client, server, forwarder }) => {
      for (let i = 0; i < 200; i++) await client.send([i], forwarder.address);
      await server.waitFor(expected);
      await sleep(30);
      assert.equal(server.received.length, expected);
      assert.equal(forwarder.stats.lost, 200 - expected);
    },
    false,
  );
});

Deno.test("delay applies each way", async () => {
  await withLink(
    { impairment: { delayMs: 40, jitterMs: 10 } },
    async ({ client, forwarder }) => {
      const started = performance.now();
      await client.send([1], forwarder.address);
      await client.waitFor(1);
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 80, `round trip took ${elapsed} ms`);
      assert.ok(elapsed < 1000, `round trip took ${elapsed} ms`);
    },
  );
});

Deno.test("reordering lets later datagrams overtake held-back ones", async () => {
  await withLink(
    {
      seed: 5,
      impairment: { reorderRate: 0.3, reorderDelayMs: 30 },
    },
    async ({ client, server, forwarder }) => {
      for (let i = 0; i < 50; i++) await client.send([i], forwarder.address);
      await server.waitFor(50);
      const order = server.received.map((d) => d.data[0]!);
      assert.deepEqual(
        [...order].sort((a, b) => a - b),
        Array.from({ length: 50 }, (_, i) => i),
      );
      assert.notDeepEqual(order, Array.from({ length: 50 }, (_, i) => i));
    },
    false,
  );
});

Deno.test("duplication delivers a datagram twice", async () => {
  await withLink(
    { impairment: { duplicateRate: 1 } },
    async ({ client, server, forwarder }) => {
      for (let i = 0; i < 10; i++) await client.send([i], forwarder.address);
      await server.waitFor(20);
      await sleep(20);
      assert.equal(server.received.length, 20);
      assert.equal(forwarder.stats.duplicated, 10);
    },
    false,
  );
});

Deno.test("a blackhole drops everything, queued datagrams included, until lifted", async () => {
  await withLink(
    { impairment: { delayMs: 30 } },
    async ({ client, forwarder }) => {
      await client.send([1], forwarder.address);
      forwarder.blackhole = true; // the datagram above is still queued
      await client.send([2], forwarder.address);
      await sleep(100);
      assert.equal(client.received.length, 0);
      assert.ok(forwarder.stats.blackholed >= 2);
      forwarder.blackhole = false;
      await client.send([3], forwarder.address);
      await client.waitFor(1);
      assert.deepEqual([...client.received[0]!.data], [3]);
    },
  );
});

Deno.test("rebind moves the flow to a new source port; the old mapping is gone", async () => {
  await withLink({}, async ({ client, server, forwarder }) => {
    await client.send([1], forwarder.address);
    await client.waitFor(1);
    const [oldPort] = forwarder.upstreamPorts;
    const [newPort] = forwarder.rebind();
    assert.notEqual(newPort, oldPort);
    await client.send([2], forwarder.address);
    await client.waitFor(2);
    assert.deepEqual(server.received.map((d) => d.from.port), [
      oldPort,
      newPort,
    ]);
    assert.deepEqual(client.received.map((d) => [...d.data]), [[1], [2]]);
    // The server answering the old address reaches nobody.
    await server.send([9], `127.0.0.1:${oldPort}`);
    await sleep(30);
    assert.equal(client.received.length, 2);
    assert.equal(forwarder.stats.stale, 1);
    assert.equal(forwarder.stats.rebinds, 1);
  });
});

Deno.test("datagrams waiting for their delay are bounded", async () => {
  await withLink(
    { maxQueued: 5, impairment: { delayMs: 50 } },
    async ({ client, server, forwarder }) => {
      for (let i = 0; i < 20; i++) await client.send([i], forwarder.address);
      await server.waitFor(5);
      await sleep(80);
      assert.equal(server.received.length, 5);
      assert.equal(forwarder.stats.overflowed, 15);
    },
    false,
  );
});

Deno.test("close cancels queued datagrams and is idempotent", async () => {
  await withLink(
    { impairment: { delayMs: 10_000 } },
    async ({ client, forwarder }) => {
      await client.send([1], forwarder.address);
      await sleep(20);
      await forwarder.close();
      await forwarder.close();
      assert.throws(() => forwarder.rebind(), /closed/);
    },
  );
});
