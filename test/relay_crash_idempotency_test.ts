// End-to-end idempotency across a relay crash: the device executed a request,
// the relay was SIGKILLed before the answer reached the controller (its
// idempotency cache died with it), and the relay came back on the same port
// and state directory. The controller's retry with the same sequence number
// gets the original answer from the device's answer cache; the handler ran
// once. Once with a plaintext controller, once with an E2E one (the retry is
// a fresh envelope, answered with the kept plaintext sealed anew).
import assert from "node:assert/strict";
import { RelayError } from "../src/errors/relay_error.ts";
import { ControllerClient } from "../src/sdk/controller_client.ts";
import { DeviceAgent } from "../src/sdk/device_agent.ts";
import { controllerConnector, deviceConnector } from "../mod.ts";
import type { ClientTransportOptions } from "../src/cli/wiring.ts";
import { RelayProcess } from "../bench/fleet/relay_process.ts";
import { decode, encode } from "./harness.ts";

const SEQUENCE_NUMBER = 4242;

interface Scenario {
  deviceId: string;
  /** E2E controller and a device that refuses plaintext, or both plaintext. */
  encrypted: boolean;
}

async function crashScenario({ deviceId, encrypted }: Scenario) {
  const relay = await RelayProcess.start({
    deviceIds: [deviceId],
    config: {
      "relay.shutdown_grace_seconds": 1,
      "relay.quic.enabled": false,
      "relay.mqtt.enabled": false,
    },
  });
  const client: ClientTransportOptions = {
    address: relay.endpoints.grpcAddress,
    caPem: relay.endpoints.caPem,
    transport: "h2",
  };
  const credential = relay.credentials[deviceId]!;

  const agent = new DeviceAgent({
    connector: deviceConnector(client),
    deviceId,
    token: credential,
    allowPlaintext: !encrypted,
    backoff: { initialMs: 20, maxMs: 200, refusedMaxMs: 100 },
  });
  let runs = 0;
  const executing = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  agent.handle("apply", async ({ payload }) => {
    const run = ++runs;
    executing.resolve();
    // Answers only once the relay is dead, so the answer is lost with it.
    await release.promise;
    return encode(`applied ${decode(payload)} (run ${run})`);
  });
  const controllers: ControllerClient[] = [];
  const controller = () => {
    const created = new ControllerClient({
      connector: controllerConnector(client),
      token: relay.endpoints.adminToken,
      ...(encrypted ? {} : { e2e: false as const }),
    });
    controllers.push(created);
    return created;
  };
  try {
    const connected = agent.waitFor("connected");
    agent.start();
    const firstConnection = (await connected).connectionId;

    const call = controller().call(deviceId, "apply", encode("config v2"), {
      sequenceNumber: SEQUENCE_NUMBER,
      timeoutMs: 10_000,
    });
    // Observed now: it fails while the relay is being killed.
    const lost = assert.rejects(
      call,
      (error: RelayError) => error.code === "UNAVAILABLE",
    );
    await executing.promise;
    await relay.kill();
    release.resolve();
    await lost;

    // The same port and state directory: the device's credential, the
    // admin token and the CA survive; the relay's idempotency cache does not.
    await relay.restart();
    await agent.waitFor(
      "connected",
      (state) => state.connectionId !== firstConnection,
    );

    // A new controller connection, as a controller that retries would open.
    const retrying = controller();
    await assert.rejects(
      retrying.call(deviceId, "apply", encode("config v3"), {
        sequenceNumber: SEQUENCE_NUMBER,
      }),
      (error: RelayError) =>
        error.code === "INVALID_REQUEST" &&
        /already used for a different request/.test(error.message),
    );
    const retried = await retrying.call(
      deviceId,
      "apply",
      encode("config v2"),
      { sequenceNumber: SEQUENCE_NUMBER },
    );
    assert.equal(decode(retried), "applied config v2 (run 1)");
    assert.equal(runs, 1, "the handler ran once");
    assert.equal(agent.stats.requestsDeduplicated, 1);
  } finally {
    release.resolve();
    await Promise.all(controllers.map((created) => created.close()));
    await agent.close();
    await relay.close();
  }
}

Deno.test("a plaintext retry after a relay crash gets the device's kept answer; the handler ran once", () =>
  crashScenario({ deviceId: "crash-plain", encrypted: false }));

Deno.test("an E2E retry after a relay crash gets the kept answer sealed for its fresh envelope", () =>
  crashScenario({ deviceId: "crash-e2e", encrypted: true }));
