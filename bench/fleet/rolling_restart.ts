// Cluster scenario, part 2: a rolling restart under steady controller
// traffic. Each relay in turn gets SIGTERM (it drains: its devices move to
// the others with their sessions), exits, starts again on the same ports and
// state, and is healthy before the next. Devices (half HTTP/2, half QUIC)
// know all three relays; each device's controller knows them too, retries a
// failed request with the same sequence number and opens a session on the
// next relay when its own ends. Counted per device transport: requests,
// failures after retries, duplicates (a handler run twice for one request),
// retries, and how long a device was unreachable.
import { controllerConnector } from "../../mod.ts";
import { ControllerClient } from "../../src/sdk/controller_client.ts";
import { CountingDevice } from "./counting_device.ts";
import type { FigureRow, ScenarioOutcome } from "./fleet_result.ts";
import type { RelayCluster } from "./relay_cluster.ts";
import { RetryingCaller } from "./retrying_caller.ts";
import { SteadyTraffic } from "./steady_traffic.ts";

const TRANSPORTS = ["h2", "quic"] as const;

export interface RollingRestartOptions {
  /** Devices per transport. */
  devicesPerTransport: number;
  /** Pause between one device's requests. */
  pauseMs: number;
  /** Traffic before the first restart and after each relay is back. */
  settleMs: number;
  progress: (text: string) => void;
}

export function rollingDeviceIds(devicesPerTransport: number): string[] {
  return TRANSPORTS.flatMap((transport) =>
    Array.from(
      { length: devicesPerTransport },
      (_, n) => `roll-${transport}-${n}`,
    )
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runRollingRestart(
  cluster: RelayCluster,
  options: RollingRestartOptions,
): Promise<ScenarioOutcome> {
  const ids = rollingDeviceIds(options.devicesPerTransport);
  const devices: CountingDevice[] = [];
  // Controllers on QUIC: a draining relay's GOAWAY can abort a Deno process
  // inside nghttp2 (denoland/deno#36788); fewer node:http2 sessions at risk.
  const clients = cluster.relays.map((_, index) =>
    new ControllerClient({
      connector: controllerConnector(cluster.clientOptions("quic", [index])),
      token: cluster.adminToken,
      e2e: false,
    })
  );
  const traffic = new Map<string, SteadyTraffic>();
  const callers = new Map<string, RetryingCaller>();
  const restarts: string[] = [];
  let from = NaN;
  let to = NaN;
  try {
    options.progress(`rolling restart: starting ${ids.length} devices`);
    for (const [n, id] of ids.entries()) {
      devices.push(
        await CountingDevice.start({
          deviceId: id,
          token: cluster.credentials[id]!,
          relays: {
            ...cluster.clientOptions(
              id.includes("quic") ? "quic" : "h2",
              cluster.ordered(n % cluster.relays.length),
            ),
            quicConnectTimeoutMs: 1000,
          },
        }),
      );
      // Its controller starts on the next relay: most requests cross NATS.
      const first = (n + 1) % clients.length;
      callers.set(
        id,
        new RetryingCaller({
          clients: cluster.ordered(first).map((index) => clients[index]!),
          deviceId: id,
          attemptTimeoutMs: 5000,
          retryForMs: 30_000,
          retryPauseMs: 100,
        }),
      );
    }
    for (const transport of TRANSPORTS) {
      traffic.set(
        transport,
        new SteadyTraffic({
          callers: new Map(
            [...callers].filter(([id]) => id.includes(`-${transport}-`)),
          ),
          pauseMs: options.pauseMs,
        }),
      );
    }
    from = performance.now();
    await sleep(options.settleMs);
    for (const [index, relay] of cluster.relays.entries()) {
      const started = performance.now();
      await relay.stop(); // SIGTERM: drain, then exit
      const stoppedMs = performance.now() - started;
      await relay.restart();
      await cluster.waitHealthy(index);
      const backMs = performance.now() - started;
      restarts.push(
        `relay-${index}: drained and exited in ${
          stoppedMs.toFixed(0)
        } ms, healthy again ${backMs.toFixed(0)} ms after SIGTERM`,
      );
      options.progress(`rolling restart: ${restarts.at(-1)}`);
      await sleep(options.settleMs);
    }
    to = performance.now();
  } finally {
    for (const run of traffic.values()) await run.stop();
    for (const caller of callers.values()) await caller.close();
    for (const client of clients) await client.close();
    for (const device of devices) await device.close();
  }

  const of = (transport: string) => ({
    run: traffic.get(transport)!,
    devices: devices.filter((d) => d.deviceId.includes(`-${transport}-`)),
    callers: [...callers].filter(([id]) => id.includes(`-${transport}-`))
      .map(([, caller]) => caller),
  });
  const row = (
    figure: string,
    unit: string,
    value: (transport: string) => number,
    target?: string,
  ): FigureRow => {
    const out: FigureRow = { figure, unit };
    for (const transport of TRANSPORTS) out[transport] = value(transport);
    if (target !== undefined) {
      out.target = target;
      out.met = TRANSPORTS.every((transport) => value(transport) === 0);
    }
    return out;
  };
  const failures = TRANSPORTS.flatMap((t) => of(t).run.failures);
  return {
    id: "cluster_rolling_restart",
    title:
      "Relay cluster: rolling restart of 3 relays under steady controller traffic",
    rows: [
      row("devices", "", (t) => of(t).devices.length),
      row("requests sent", "", (t) => of(t).run.sent),
      row(
        "failed (after retries)",
        "",
        (t) => of(t).run.failures.length,
        "0",
      ),
      row(
        "duplicated (handler ran twice)",
        "",
        (t) => of(t).devices.flatMap((d) => d.duplicates()).length,
        "0",
      ),
      row(
        "retried attempts",
        "",
        (t) => of(t).callers.reduce((n, c) => n + c.retries, 0),
      ),
      row(
        "controller sessions reopened",
        "",
        (t) => of(t).callers.reduce((n, c) => n + c.reopened, 0),
      ),
      row(
        "worst round trip (retries included)",
        "ms",
        (t) => Math.round(of(t).run.worstLatencyMs),
      ),
      row(
        "longest gap in a device's answers",
        "ms",
        (t) => Math.round(of(t).run.longestGap().ms),
      ),
      row(
        "longest time a device agent was not connected",
        "ms",
        (t) =>
          Math.round(
            Math.max(0, ...of(t).devices.map((d) => d.longestAwayMs(from, to))),
          ),
      ),
    ],
    settings: {
      devices_per_transport: options.devicesPerTransport,
      pause_between_requests_ms: options.pauseMs,
      settle_ms: options.settleMs,
      controllers:
        "one per device (QUIC connector), knowing all 3 relays (starting on the next one), retrying with the same sequence number (5 s per attempt, 100 ms pause)",
      restart:
        "SIGTERM (drain), wait for exit, start on the same ports and state, wait for /health 200",
    },
    notes: [...restarts, ...failures.slice(0, 5).map((f) => `failed: ${f}`)],
  };
}
