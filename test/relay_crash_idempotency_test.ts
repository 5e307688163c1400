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
import { controllerConnector, deviceConnector } from "../src/main.ts";
import { RelayStore } from "../src/store/relay_store.ts";
import type { ClientTransportOptions } from "../src/cli/wiring.ts";
import { decode, encode } from "./harness.ts";

const START_TIMEOUT_MS = 20_000;
const SEQUENCE_NUMBER = 4242;

/** `relay serve` as a child process, so it can be killed for real. */
class RelayProcess {
  readonly port: number;
  readonly #process: Deno.ChildProcess;
  #exited = false;

  private constructor(process: Deno.ChildProcess, port: number) {
    this.#process = process;
    this.port = port;
  }

  /** Starts on `port` (0: any free one) and resolves once it listens. */
  static async start(configPath: string, port = 0): Promise<RelayProcess> {
    const process = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "src/main.ts",
        "serve",
        "--config",
        configPath,
        "--address",
        `127.0.0.1:${port}`,
      ],
      cwd: new URL("..", import.meta.url),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const reader = process.stderr.pipeThrough(new TextDecoderStream())
      .getReader();
    let text = "";
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const match = /listening on 127\.0\.0\.1:(\d+)/.exec(text);
      if (match) {
        // Keep draining stderr so the child never blocks on a full pipe.
        (async () => {
          while (!(await reader.read()).done) { /* discard */ }
        })();
        return new RelayProcess(process, Number(match[1]));
      }
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    process.kill("SIGKILL");
    await process.status;
    throw new Error(`relay did not start:\n${text}`);
  }

  async kill(signal: Deno.Signal): Promise<void> {
    if (this.#exited) return;
    this.#exited = true;
    this.#process.kill(signal);
    await this.#process.status;
  }
}

interface Scenario {
  deviceId: string;
  /** E2E controller and a device that refuses plaintext, or both plaintext. */
  encrypted: boolean;
}

async function crashScenario({ deviceId, encrypted }: Scenario) {
  const stateDir = await Deno.makeTempDir({ prefix: "relay-crash-test-" });
  const configPath = `${stateDir}/relay.yaml`;
  await Deno.writeTextFile(
    configPath,
    [
      "relay:",
      "  quic_address: 127.0.0.1:0",
      `  state_dir: ${stateDir}`,
      "  shutdown_grace_seconds: 1",
      "  quic:",
      "    enabled: false",
      "  mqtt:",
      "    enabled: false",
      "observability:",
      "  health:",
      "    address: 127.0.0.1:0",
    ].join("\n") + "\n",
  );
  let relay = await RelayProcess.start(configPath);
  const port = relay.port;
  const caPem = await Deno.readTextFile(`${stateDir}/ca.pem`);
  const adminToken = (await Deno.readTextFile(`${stateDir}/admin.token`))
    .trim();
  const client: ClientTransportOptions = {
    address: `127.0.0.1:${port}`,
    caPem,
    transport: "h2",
  };
  const store = new RelayStore(`${stateDir}/relay.db`);
  const credential = store.registerDevice(deviceId, "default");
  store.close();

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
      token: adminToken,
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
    await relay.kill("SIGKILL");
    release.resolve();
    await lost;

    // The same port and state directory: the device's credential, the
    // admin token and the CA survive; the relay's idempotency cache does not.
    relay = await RelayProcess.start(configPath, port);
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
    await relay.kill("SIGKILL");
    await Deno.remove(stateDir, { recursive: true });
  }
}

Deno.test("a plaintext retry after a relay crash gets the device's kept answer; the handler ran once", () =>
  crashScenario({ deviceId: "crash-plain", encrypted: false }));

Deno.test("an E2E retry after a relay crash gets the kept answer sealed for its fresh envelope", () =>
  crashScenario({ deviceId: "crash-e2e", encrypted: true }));
