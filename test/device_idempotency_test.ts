// The device agent's answer cache through a real relay: a retry that reaches
// the device again (the relay's own cache forgot it: here its TTL is 1 ms, in
// real life a relay restart, see relay_crash_idempotency_test.ts) is answered
// with the first answer and the handler runs once; E2E retries, with the same
// envelope or a fresh one, get the answer sealed for their envelope.
import assert from "node:assert/strict";
import { RelayError } from "../src/errors/relay_error.ts";
import type {
  ClientStream,
  DeviceConnector,
  DeviceMessage,
  RelayMessage,
} from "../src/sdk/connector.ts";
import { deviceConnector } from "../mod.ts";
import { contractTest, decode, encode, eventually } from "./harness.ts";

/** The relay forgets its answers at once, so every retry reaches the device. */
const FORGETFUL_RELAY = {
  config: { "relay.idempotency.ttl_seconds": 0.001 },
};
const STRICT = { allowPlaintext: false, echo: false } as const;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const refusedAsReused = (error: unknown) =>
  error instanceof RelayError && error.code === "INVALID_REQUEST" &&
  /already used for a different request/.test(error.message);

contractTest(
  "a retry the relay forgot is answered from the device's cache, sealed for its own envelope",
  FORGETFUL_RELAY,
  async (t) => {
    const agent = await t.device("answers-1", STRICT);
    let runs = 0;
    agent.handle("*", () => encode(`run ${++runs}`));
    const client = t.controller();
    const session = client.openSession("answers-1");
    const first = await session.call("count", encode("x"), {
      sequenceNumber: 42,
    });
    assert.equal(decode(first), "run 1");

    // The same session re-sends the same envelope: a replay to the device's
    // E2E guard, answered from the cache (it runs nothing).
    await pause(5);
    const sameEnvelope = await session.call("count", encode("x"), {
      sequenceNumber: 42,
    });
    assert.equal(decode(sameEnvelope), "run 1");

    // Another session seals a fresh envelope of the same request.
    await pause(5);
    const freshEnvelope = await t.controller().call(
      "answers-1",
      "count",
      encode("x"),
      { sequenceNumber: 42 },
    );
    assert.equal(decode(freshEnvelope), "run 1");
    assert.equal(runs, 1);
    assert.equal(agent.stats.requestsDeduplicated, 2);

    // The number reused for another payload or method is refused, not
    // answered with another request's answer.
    await assert.rejects(
      t.controller().call("answers-1", "count", encode("y"), {
        sequenceNumber: 42,
      }),
      refusedAsReused,
    );
    await assert.rejects(
      t.controller().call("answers-1", "other", encode("x"), {
        sequenceNumber: 42,
      }),
      refusedAsReused,
    );

    // Sequence number 0 is "unset": never deduplicated.
    await session.call("count", encode("x"), { sequenceNumber: 0 });
    await session.call("count", encode("x"), { sequenceNumber: 0 });
    assert.equal(runs, 3);
  },
);

contractTest(
  "a plaintext retry of an encrypted request is a different request",
  FORGETFUL_RELAY,
  async (t) => {
    const agent = await t.device("answers-2", { echo: false });
    let runs = 0;
    agent.handle("count", () => encode(`run ${++runs}`));
    await t.controller().call("answers-2", "count", encode("x"), {
      sequenceNumber: 7,
    });
    await pause(5);
    await assert.rejects(
      t.controller(undefined, { e2e: false }).call(
        "answers-2",
        "count",
        encode("x"),
        { sequenceNumber: 7 },
      ),
      refusedAsReused,
    );
    assert.equal(runs, 1);
  },
);

contractTest(
  "a handler's error is kept for retries unless it is retryable",
  {},
  async (t) => {
    // The relay never caches failures: every retry below reaches the device.
    const agent = await t.device("answers-3", STRICT);
    const runs = { final: 0, crash: 0, busy: 0 };
    agent.handle("final", () => {
      runs.final++;
      throw new RelayError("INTERNAL_ERROR", "written, then the disk filled");
    });
    agent.handle("crash", () => {
      runs.crash++;
      throw new Error("boom");
    });
    agent.handle("busy", () => {
      if (++runs.busy === 1) {
        throw new RelayError("RATE_LIMITED", "busy, nothing done");
      }
      return encode("done on retry");
    });
    const client = t.controller();
    for (let attempt = 0; attempt < 2; attempt++) {
      await assert.rejects(
        client.call("answers-3", "final", encode("x"), { sequenceNumber: 1 }),
        (error: RelayError) =>
          error.code === "INTERNAL_ERROR" &&
          error.message === "written, then the disk filled",
      );
      await assert.rejects(
        client.call("answers-3", "crash", encode("x"), { sequenceNumber: 2 }),
        (error: RelayError) =>
          error.code === "INTERNAL_ERROR" && /boom/.test(error.message),
      );
    }
    assert.deepEqual({ final: runs.final, crash: runs.crash }, {
      final: 1,
      crash: 1,
    });

    await assert.rejects(
      client.call("answers-3", "busy", encode("x"), { sequenceNumber: 3 }),
      (error: RelayError) => error.code === "RATE_LIMITED",
    );
    const retried = await client.call("answers-3", "busy", encode("x"), {
      sequenceNumber: 3,
    });
    assert.equal(decode(retried), "done on retry");
    assert.equal(runs.busy, 2);
  },
);

contractTest(
  "a request the relay re-sends after a resume does not run its handler twice",
  { config: { "relay.session.resume_window_seconds": 10 } },
  async (t) => {
    const link = droppable(deviceConnector(t.clientOptions));
    const agent = await t.device("answers-4", {
      ...STRICT,
      connector: link.connector,
    });
    let runs = 0;
    const started = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    // Ignores its signal (aborted by the drop) and finishes its work.
    agent.handle("slow", async () => {
      runs++;
      started.resolve();
      await release.promise;
      return encode(`done ${runs}`);
    });
    const call = t.controller().call("answers-4", "slow", encode("x"), {
      sequenceNumber: 9,
      timeoutMs: 10_000,
    });
    try {
      await started.promise;
      link.drop();
      await eventually(
        () => link.requestsSeen >= 2,
        5000,
        "the request re-sent on the resumed connection",
      );
    } finally {
      release.resolve();
    }
    assert.equal(decode(await call), "done 1");
    assert.equal(runs, 1);
    assert.equal(agent.state.resumed, true);
  },
);

contractTest(
  "idempotency maxEntries 0 turns the device's cache off",
  FORGETFUL_RELAY,
  async (t) => {
    const agent = await t.device("answers-5", {
      ...STRICT,
      idempotency: { maxEntries: 0 },
    });
    let runs = 0;
    agent.handle("count", () => encode(`run ${++runs}`));
    for (let attempt = 1; attempt <= 2; attempt++) {
      await pause(5);
      const answer = await t.controller().call(
        "answers-5",
        "count",
        encode("x"),
        { sequenceNumber: 5 },
      );
      assert.equal(decode(answer), `run ${attempt}`);
    }
  },
);

/** A connector whose current stream the test can drop, counting data requests. */
function droppable(inner: DeviceConnector) {
  let current: ClientStream<DeviceMessage, RelayMessage> | undefined;
  let requestsSeen = 0;
  const connector: DeviceConnector = {
    transport: inner.transport,
    connect() {
      const stream = inner.connect();
      current = stream;
      return {
        get transport() {
          return stream.transport;
        },
        ready: stream.ready,
        messages: (async function* () {
          for await (const message of stream.messages) {
            if (message.data_request) requestsSeen++;
            yield message;
          }
        })(),
        send: (message) => stream.send(message),
        end: () => stream.end(),
        abort: () => stream.abort(),
      };
    },
    close: () => inner.close(),
  };
  return {
    connector,
    drop: () => current?.abort(),
    get requestsSeen() {
      return requestsSeen;
    },
  };
}
