// `relay device --status/--telemetry-interval`: the agent's status, published
// (retained) at every connect, and a built-in telemetry sample published
// periodically while connected. Both go through the relay connection.
import { RelayError } from "../errors/relay_error.ts";
import type { DeviceAgent } from "../sdk/device_agent.ts";
import { parseDuration } from "./cli_args.ts";

/** Shortest --telemetry-interval accepted. */
export const MIN_TELEMETRY_INTERVAL_MS = 100;

export interface DeviceReportingOptions {
  /** Published on device/{id}/status at every (re)connect. */
  status?: Record<string, unknown>;
  /** Period of the built-in telemetry; 0 turns it off. */
  telemetryIntervalMs: number;
  /** One line for the operator (stderr). */
  log: (line: string) => void;
}

/** Parses --status: a JSON object. */
export function parseStatusFlag(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    throw new RelayError(
      "INVALID_REQUEST",
      `--status must be a JSON object: ${(error as Error).message}`,
    );
  }
  if (
    parsed === null || typeof parsed !== "object" || Array.isArray(parsed)
  ) {
    throw new RelayError(
      "INVALID_REQUEST",
      `--status must be a JSON object, e.g. '{"firmware":"1.2.0"}'`,
    );
  }
  return parsed as Record<string, unknown>;
}

/** Parses --telemetry-interval ("30s", "500ms"; "0" turns it off). */
export function parseTelemetryInterval(value: string | undefined): number {
  if (value === undefined) return 0;
  const ms = parseDuration(value, "telemetry-interval");
  if (ms !== 0 && ms < MIN_TELEMETRY_INTERVAL_MS) {
    throw new RelayError(
      "INVALID_REQUEST",
      `--telemetry-interval must be 0 (off) or at least ${MIN_TELEMETRY_INTERVAL_MS}ms`,
    );
  }
  return ms;
}

/** The built-in telemetry sample (device_id and timestamp are added by the SDK). */
export function telemetrySample(
  agent: DeviceAgent,
  startedAt: number,
): Record<string, unknown> {
  const { requestsHandled, requestsFailed, connects } = agent.stats;
  const memory = Deno.memoryUsage();
  return {
    uptime_seconds: Math.round((Date.now() - startedAt) / 1000),
    state: agent.state.state,
    transport: agent.state.transport,
    connection_id: agent.state.connectionId,
    connects,
    requests_handled: requestsHandled,
    requests_failed: requestsFailed,
    memory: { rss_bytes: memory.rss, heap_used_bytes: memory.heapUsed },
  };
}

/** Starts publishing; returns a function that stops it. */
export function startDeviceReporting(
  agent: DeviceAgent,
  options: DeviceReportingOptions,
): () => void {
  const { status, telemetryIntervalMs, log } = options;
  const prefix = `device ${agent.deviceId}`;
  const stops: (() => void)[] = [];
  if (status !== undefined) {
    let publishedFor = 0;
    stops.push(agent.onState((state) => {
      const { connects } = agent.stats;
      // Once per connection (a failed transport move announces it again).
      if (state.state !== "connected" || connects === publishedFor) return;
      publishedFor = connects;
      agent.publishStatus(status).then(
        () =>
          log(`${prefix}: status published on device/${agent.deviceId}/status`),
        (error) => log(`${prefix}: status not published${describe(error)}`),
      );
    }));
  }
  if (telemetryIntervalMs > 0) {
    const startedAt = Date.now();
    let lastOutcome = "";
    const report = (outcome: string) => {
      if (outcome !== lastOutcome) log(`${prefix}: telemetry ${outcome}`);
      lastOutcome = outcome;
    };
    const timer = setInterval(() => {
      // No stale samples: a tick while disconnected is skipped, not queued.
      if (agent.state.state !== "connected") return;
      agent.publishTelemetry(telemetrySample(agent, startedAt)).then(
        () => report(`published on telemetry/${agent.deviceId}`),
        (error) => report(`not published${describe(error)}`),
      );
    }, telemetryIntervalMs);
    stops.push(() => clearInterval(timer));
  }
  return () => {
    for (const stop of stops) stop();
  };
}

function describe(error: unknown): string {
  const relayError = RelayError.from(error);
  return ` (${relayError.code}: ${relayError.message})`;
}
