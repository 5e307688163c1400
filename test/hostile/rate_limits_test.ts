// Hostile input: floods. Registrations, controller streams, requests and
// payload bytes beyond relay.rate_limits.* are refused with RATE_LIMITED for
// the excess only (every request still answered exactly once, the stream
// stays open), while other devices and controllers are unaffected.
import assert from "node:assert/strict";
import { RelayError } from "../../src/errors/relay_error.ts";
import type { DeviceResponse } from "../../src/sdk/connector.ts";
import { decode, encode, type TestRelay } from "../harness.ts";
import { rawDevice } from "../raw_device.ts";
import { hostileTest, PLAINTEXT, sleep } from "./hostile_case.ts";
import { rawController } from "./raw_controller.ts";
import { assertStillServes } from "./still_serves.ts";

const RATE_LIMIT_MESSAGE = /rate limit/i;

/** One registration attempt: its code and message ("OK" when registered). */
async function register(t: TestRelay, deviceId: string, credential: string) {
  try {
    const device = await rawDevice(t, deviceId, credential);
    device.drop();
    if (device.first.register_response) return { code: "OK", message: "" };
    return {
      code: device.first.error?.code ?? "NO_ERROR_MESSAGE",
      message: device.first.error?.message ?? "",
    };
  } catch (error) {
    return error instanceof RelayError
      ? { code: `closed without an error message: ${error.code}`, message: "" }
      : { code: `closed without an error message`, message: "" };
  }
}

/** At most `burst` plus what `perSecond` refilled while the flood ran. */
const allowance = (burst: number, perSecond: number, startedAt: number) =>
  burst + Math.ceil((performance.now() - startedAt) / 1000 * perSecond);

hostileTest(
  "rate limits: one device id registering faster than connections.device",
  {
    config: {
      "relay.rate_limits.connections.device": { per_second: 1, burst: 3 },
    },
  },
  async (t) => {
    const credential = t.registerDevice("flood-dev");
    const started = performance.now();
    const attempts = [];
    for (let i = 0; i < 6; i++) {
      attempts.push(await register(t, "flood-dev", credential));
    }
    const allowed = allowance(3, 1, started);
    const codes = attempts.map((a) => a.code);
    assert.deepEqual(codes.slice(0, 3), ["OK", "OK", "OK"], `${codes}`);
    const refused = attempts.filter((a) => a.code !== "OK");
    assert.ok(refused.length >= 6 - allowed, `refused: ${codes}`);
    for (const attempt of refused) {
      assert.equal(attempt.code, "RATE_LIMITED", `${codes}`);
      assert.match(attempt.message, RATE_LIMIT_MESSAGE);
    }
    // Another device id connects at once.
    const calm = await register(t, "calm-dev", t.registerDevice("calm-dev"));
    assert.equal(calm.code, "OK");
    await assertStillServes(t);
  },
);

/** The code of one call on `session`, whether the stream or the request was refused. */
async function outcome(
  request: Promise<DeviceResponse>,
): Promise<{ code: string; message: string }> {
  try {
    const response = await request;
    return { code: response.error, message: response.error_message };
  } catch (error) {
    const relayError = RelayError.from(error);
    return { code: relayError.code, message: relayError.message };
  }
}

hostileTest(
  "rate limits: one controller opening streams faster than connections.controller",
  {
    config: {
      "relay.rate_limits.connections.controller": { per_second: 1, burst: 3 },
    },
  },
  async (t) => {
    await t.device("flood-target");
    const flooder = t.controller(
      await t.token("operator", { id: "flooder", projects: ["default"] }),
      PLAINTEXT,
    );
    const started = performance.now();
    const sessions = [];
    const results = [];
    for (let i = 0; i < 6; i++) {
      const session = flooder.openSession("flood-target");
      sessions.push(session);
      results.push(await outcome(session.request("echo", encode(`s${i}`))));
    }
    const allowed = allowance(3, 1, started);
    const codes = results.map((r) => r.code);
    assert.deepEqual(codes.slice(0, 3), ["OK", "OK", "OK"], `${codes}`);
    const refused = results.filter((r) => r.code !== "OK");
    assert.ok(refused.length >= 6 - allowed, `refused: ${codes}`);
    for (const result of refused) {
      assert.equal(result.code, "RATE_LIMITED", `${codes}`);
      assert.match(result.message, RATE_LIMIT_MESSAGE);
    }
    // The streams that were let in keep working.
    assert.equal(decode(await sessions[0]!.call("echo", encode("k"))), "k");
    // Another controller is unaffected.
    const calm = t.controller(
      await t.token("operator", { id: "calm", projects: ["default"] }),
      PLAINTEXT,
    );
    for (let i = 0; i < 3; i++) {
      const reply = await calm.openSession("flood-target").call(
        "echo",
        encode(`c${i}`),
      );
      assert.equal(decode(reply), `c${i}`);
    }
    await assertStillServes(t);
  },
);

/**
 * Sends `count` pipelined requests on one raw stream and reads every answer:
 * each sequence number answered exactly once, nothing after that.
 */
async function flood(
  t: TestRelay,
  options: {
    token: string;
    deviceId: string;
    count: number;
    payload?: (sequence: number) => Uint8Array;
  },
) {
  const stream = rawController(t, options.token);
  const payload = options.payload ?? ((n: number) => encode(`r${n}`));
  try {
    for (let sequence = 1; sequence <= options.count; sequence++) {
      await stream.send({
        target_device_id: options.deviceId,
        method_name: "echo",
        sequence_number: sequence,
        encrypted_payload: payload(sequence),
      });
    }
    const answers = await stream.take(options.count);
    assert.deepEqual(
      answers.map((a) => a.sequence_number).sort((a, b) => a - b),
      Array.from({ length: options.count }, (_, i) => i + 1),
      "every request answered exactly once",
    );
    assert.ok(await stream.quietFor(150), "no answer beyond one per request");
    for (const answer of answers) {
      assert.ok(
        answer.error === "OK" || answer.error === "RATE_LIMITED",
        `${answer.error}: ${answer.error_message}`,
      );
      if (answer.error === "RATE_LIMITED") {
        assert.match(answer.error_message, RATE_LIMIT_MESSAGE);
        assert.equal(answer.encrypted_payload.byteLength, 0);
      }
    }
    return { stream, answers, ok: answers.filter((a) => a.error === "OK") };
  } catch (error) {
    stream.close();
    throw error;
  }
}

const countingDevice = async (t: TestRelay, deviceId: string) => {
  const agent = await t.device(deviceId, { echo: false });
  const counter = { delivered: 0 };
  agent.handle("echo", (request) => {
    counter.delivered++;
    return request.payload;
  });
  return counter;
};

hostileTest(
  "rate limits: a controller sending faster than requests.controller",
  {
    config: {
      "relay.rate_limits.requests.controller": { per_second: 5, burst: 10 },
    },
  },
  async (t) => {
    const device = await countingDevice(t, "rq-dev");
    const started = performance.now();
    const { stream, ok } = await flood(t, {
      token: await t.token("operator", {
        id: "rq-flood",
        projects: ["default"],
      }),
      deviceId: "rq-dev",
      count: 20,
    });
    try {
      const allowed = allowance(10, 5, started);
      assert.ok(ok.length >= 10, `${ok.length} of 20 allowed (burst 10)`);
      assert.ok(
        ok.length <= allowed,
        `${ok.length} allowed, at most ${allowed}`,
      );
      for (const answer of ok) {
        assert.equal(
          decode(answer.encrypted_payload),
          `r${answer.sequence_number}`,
        );
      }
      assert.equal(
        device.delivered,
        ok.length,
        "refused requests never arrived",
      );
      // The stream stays open and works again once the bucket refilled.
      await sleep(300);
      await stream.send({
        target_device_id: "rq-dev",
        sequence_number: 21,
        encrypted_payload: encode("later"),
      });
      assert.equal((await stream.next())?.error, "OK");
    } finally {
      stream.close();
    }
    // Another controller is unaffected.
    const other = await flood(t, {
      token: await t.token("operator", {
        id: "rq-calm",
        projects: ["default"],
      }),
      deviceId: "rq-dev",
      count: 10,
    });
    other.stream.close();
    assert.equal(other.ok.length, 10);
    await assertStillServes(t);
  },
);

hostileTest(
  "rate limits: requests to one device faster than requests.device",
  {
    config: {
      "relay.rate_limits.requests.device": { per_second: 5, burst: 10 },
    },
  },
  async (t) => {
    const busy = await countingDevice(t, "busy-dev");
    await countingDevice(t, "quiet-dev");
    const tokens = [
      await t.token("operator", { id: "rq-1", projects: ["default"] }),
      await t.token("operator", { id: "rq-2", projects: ["default"] }),
    ];
    const started = performance.now();
    const floods = await Promise.all(
      tokens.map((token) =>
        flood(t, { token, deviceId: "busy-dev", count: 10 })
      ),
    );
    for (const { stream } of floods) stream.close();
    const allowed = allowance(10, 5, started);
    const ok = floods.flatMap((f) => f.ok).length;
    assert.ok(ok >= 10, `${ok} of 20 allowed (burst 10)`);
    assert.ok(ok <= allowed, `${ok} allowed, at most ${allowed}`);
    assert.equal(busy.delivered, ok, "refused requests never arrived");
    // The same controllers reach another device at once.
    const quiet = await flood(t, {
      token: tokens[0]!,
      deviceId: "quiet-dev",
      count: 10,
    });
    quiet.stream.close();
    assert.equal(quiet.ok.length, 10);
    await assertStillServes(t);
  },
);

hostileTest(
  "rate limits: payload bytes faster than bytes.controller",
  {
    config: {
      "relay.request.max_payload_bytes": 1024,
      "relay.rate_limits.bytes.controller": { per_second: 1024, burst: 2048 },
    },
  },
  async (t) => {
    const agent = await t.device("bytes-dev", { echo: false });
    let delivered = 0;
    agent.handle("echo", () => {
      delivered++;
      return new Uint8Array(0); // only request bytes count against the bucket
    });
    const started = performance.now();
    const { stream, ok } = await flood(t, {
      token: await t.token("operator", {
        id: "bytes-flood",
        projects: ["default"],
      }),
      deviceId: "bytes-dev",
      count: 6,
      payload: () => new Uint8Array(1024),
    });
    stream.close();
    const allowed = allowance(2, 1, started);
    assert.ok(ok.length >= 2, `${ok.length} of 6 allowed (burst 2 KiB)`);
    assert.ok(ok.length <= allowed, `${ok.length} allowed, at most ${allowed}`);
    assert.equal(delivered, ok.length, "refused requests never arrived");
    const other = await flood(t, {
      token: await t.token("operator", {
        id: "bytes-calm",
        projects: ["default"],
      }),
      deviceId: "bytes-dev",
      count: 2,
      payload: () => new Uint8Array(1024),
    });
    other.stream.close();
    assert.equal(other.ok.length, 2);
    await assertStillServes(t);
  },
);
