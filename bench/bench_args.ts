// Command-line options of `deno task bench:echo`.
import { parseArgs } from "node:util";
import type { LossMethod } from "./loss_scenario.ts";

export interface BenchOptions {
  /** Measured sequential round trips for the latency scenario. */
  count: number;
  /** Unmeasured sequential round trips before it. */
  warmup: number;
  /** Measured duration of every pipelined scenario, in milliseconds. */
  durationMs: number;
  /** Unmeasured run before every pipelined scenario, in milliseconds. */
  warmupMs: number;
  /** Rounds each measurement is split into, targets taking turns. */
  rounds: number;
  /** Requests in flight for the requests/second scenarios. */
  window: number;
  /** Requests in flight for the bulk throughput scenario. */
  bulkWindow: number;
  /** Payload of the bulk throughput scenario, in KiB. */
  bulkKiB: number;
  /** How the loss scenario impairs the device link. */
  lossMethod: LossMethod;
  /** Packets dropped on the lossy link, each way, in percent. */
  lossPercent: number;
  lossKiB: number;
  lossWindow: number;
  /** Measured duration of each loss scenario (0% and lossy), in milliseconds. */
  lossDurationMs: number;
  /** Extra relay config keys (dotted), from repeated --relay-config. */
  relayConfig: Record<string, unknown>;
  /** TLS (default) or plaintext for the direct reference. */
  directTls: boolean;
  json: boolean;
}

const LOSS_METHODS: readonly LossMethod[] = [
  "auto",
  "netns",
  "forwarder",
  "off",
];

export const USAGE = `Usage: deno task bench:echo [options]

Echo through an in-process relay with TLS, over HTTP/2 gRPC (h2) and over
QUIC (device and controller on the same transport), against a direct
grpc-js echo server (no relay), all measured in the same run; then the same
with packet loss on the device link.

Options:
  --count N          sequential 1 KiB round trips measured (default 2000)
  --warmup N         sequential round trips before measuring (default 300)
  --duration S       seconds per pipelined scenario and target (default 4)
  --warmup-duration S  seconds of warm-up before each one (default 0.5)
  --rounds N         split each measurement into N rounds, the targets taking
                     turns, so load from other processes hits all (default 4)
  --window N         requests in flight, requests/second scenarios (default 128)
  --bulk-window N    requests in flight, bulk throughput scenario (default 16)
  --bulk-kib N       payload of the bulk throughput scenario in KiB (default 64)
  --loss-method M    auto (default): a network namespace with a veth link and
                     iptables/nft loss when run as root on Linux, otherwise a
                     UDP forwarder (QUIC only); netns, forwarder, off
  --loss PCT         packets dropped on the device link, each way (default 2)
  --loss-kib N       payload of the loss scenarios in KiB (default 64)
  --loss-window N    requests in flight in the loss scenarios (default 16)
  --loss-duration S  seconds per loss scenario and target (default 4)
  --relay-config K=V relay config key, repeatable; V is parsed as JSON when it
                     can be (e.g. --relay-config relay.idempotency.max_entries=1)
  --direct-plaintext direct reference over plaintext HTTP/2 instead of TLS
  --json             machine-readable output (one JSON object on stdout)
  -h, --help         this text
`;

export function parseBenchArgs(args: string[]): BenchOptions | "help" {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      count: { type: "string", default: "2000" },
      warmup: { type: "string", default: "300" },
      duration: { type: "string", default: "4" },
      "warmup-duration": { type: "string", default: "0.5" },
      rounds: { type: "string", default: "4" },
      window: { type: "string", default: "128" },
      "bulk-window": { type: "string", default: "16" },
      "bulk-kib": { type: "string", default: "64" },
      "loss-method": { type: "string", default: "auto" },
      loss: { type: "string", default: "2" },
      "loss-kib": { type: "string", default: "64" },
      "loss-window": { type: "string", default: "16" },
      "loss-duration": { type: "string", default: "4" },
      "relay-config": { type: "string", multiple: true, default: [] },
      "direct-plaintext": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  const lossMethod = values["loss-method"] as LossMethod;
  if (!LOSS_METHODS.includes(lossMethod)) {
    throw new TypeError(
      `--loss-method must be one of ${
        LOSS_METHODS.join(", ")
      }, got "${lossMethod}"`,
    );
  }
  const lossPercent = atLeast("--loss", values.loss, 0);
  if (lossPercent >= 100) {
    throw new TypeError(`--loss must be below 100, got "${values.loss}"`);
  }
  return {
    count: integer("--count", values.count, 1),
    warmup: integer("--warmup", values.warmup, 0),
    durationMs: atLeast("--duration", values.duration, 0.001) * 1000,
    warmupMs: atLeast("--warmup-duration", values["warmup-duration"], 0) *
      1000,
    rounds: integer("--rounds", values.rounds, 1),
    window: integer("--window", values.window, 1),
    bulkWindow: integer("--bulk-window", values["bulk-window"], 1),
    bulkKiB: integer("--bulk-kib", values["bulk-kib"], 1),
    lossMethod,
    lossPercent,
    lossKiB: integer("--loss-kib", values["loss-kib"], 1),
    lossWindow: integer("--loss-window", values["loss-window"], 1),
    lossDurationMs: atLeast("--loss-duration", values["loss-duration"], 0.001) *
      1000,
    relayConfig: configPairs(values["relay-config"]),
    directTls: !values["direct-plaintext"],
    json: values.json,
  };
}

function integer(flag: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    throw new TypeError(`${flag} must be an integer >= ${min}, got "${text}"`);
  }
  return value;
}

/** A number >= min (seconds, or a percentage). */
function atLeast(flag: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < min) {
    throw new TypeError(`${flag} must be a number >= ${min}, got "${text}"`);
  }
  return value;
}

function configPairs(pairs: string[]): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const pair of pairs) {
    const match = pair.match(/^([A-Za-z0-9_.]+)=(.*)$/s);
    if (match === null) {
      throw new TypeError(`--relay-config expects KEY=VALUE, got "${pair}"`);
    }
    config[match[1]!] = jsonOrString(match[2]!);
  }
  return config;
}

function jsonOrString(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (_error) {
    return text; // not JSON: a plain string value
  }
}
