// The controller end as its own process: one ControllerClient and ONE
// session (one ConnectToDevice stream) per target, then the same load on
// each target in rotating rounds (h2/quic/direct/nginx, then quic/direct/...)
// so that noise from the other processes on a shared machine hits every
// target alike. Targets come as JSON in $BENCH_ECHO_TARGETS (they hold the
// admin token). Prints on stdout, one JSON object per line:
//   {"type":"mark","target":T,"event":"start"|"end"}  around each round
//   {"type":"result","results":{T: LoadResult},"errors":{T: message}}
// Usage:
//   deno run -A bench/fleet/echo_client_worker.ts --ca FILE --payload BYTES \
//     --mode sequential --count N --warmup N --rounds R
//   ... --mode windowed --window W --duration-ms MS --warmup-ms MS --rounds R
import { parseArgs } from "node:util";
import { ControllerClient, controllerConnector } from "../../mod.ts";
import type { DeviceCallSession } from "../../src/sdk/controller_client.ts";
import {
  benchPayload,
  checkEcho,
  combine,
  type LoadResult,
  type Measurement,
  measureSequential,
  measureWindowed,
} from "../load_patterns.ts";

export interface EchoTargetSpec {
  /** h2, quic (through the relay), direct or nginx. */
  name: string;
  transport: "h2" | "quic";
  address: string;
  quicAddress?: string;
  serverName: string;
  token: string;
  deviceId: string;
  /** End-to-end encryption on (the SDK default); off unless set. */
  e2e?: boolean;
}

export interface EchoClientResult {
  results: Record<string, LoadResult>;
  errors: Record<string, string>;
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    ca: { type: "string" },
    payload: { type: "string", default: "1024" },
    mode: { type: "string", default: "sequential" },
    count: { type: "string", default: "1000" },
    warmup: { type: "string", default: "100" },
    window: { type: "string", default: "8" },
    "duration-ms": { type: "string", default: "3000" },
    "warmup-ms": { type: "string", default: "1000" },
    rounds: { type: "string", default: "5" },
  },
});
const specs: EchoTargetSpec[] = JSON.parse(
  Deno.env.get("BENCH_ECHO_TARGETS") ?? "[]",
);
const caPem = await Deno.readTextFile(values.ca!);
const payload = benchPayload(Number(values.payload));
const rounds = Math.max(1, Number(values.rounds));
const count = Number(values.count);
const window = Number(values.window);
const durationMs = Number(values["duration-ms"]);
const sequential = values.mode === "sequential";

const emit = (message: Record<string, unknown>) =>
  console.log(JSON.stringify(message));

interface Open {
  spec: EchoTargetSpec;
  client: ControllerClient;
  session: DeviceCallSession;
}
const open: Open[] = specs.map((spec) => {
  const client = new ControllerClient({
    connector: controllerConnector({
      address: spec.address,
      ...(spec.quicAddress ? { quicAddress: spec.quicAddress } : {}),
      caPem,
      serverName: spec.serverName,
      transport: spec.transport,
    }),
    token: spec.token,
    // Off unless the target asks: the relay only forwards bytes, and most
    // scenarios measure it, not the clients' encryption.
    e2e: spec.e2e ? {} : false,
  });
  return { spec, client, session: client.openSession(spec.deviceId) };
});

const errors: Record<string, string> = {};
const measured = new Map<string, Measurement[]>();
const measure = (target: Open, round: number) => {
  const call = (bytes: Uint8Array) => target.session.call("echo", bytes);
  if (sequential) {
    const share = Math.floor(count / rounds) + (round < count % rounds ? 1 : 0);
    return measureSequential(call, payload, share);
  }
  return measureWindowed(call, payload, window, durationMs / rounds);
};

// A byte-exact check and a warm-up per target; a target that fails is
// dropped (and reported) instead of failing the others.
for (const target of open) {
  const call = (bytes: Uint8Array) => target.session.call("echo", bytes);
  try {
    checkEcho(payload, await call(payload));
    if (sequential) {
      await measureSequential(call, payload, Number(values.warmup));
    } else {
      await measureWindowed(call, payload, window, Number(values["warmup-ms"]));
    }
    measured.set(target.spec.name, []);
  } catch (error) {
    errors[target.spec.name] = (error as Error).message;
  }
}
let live = open.filter((target) => measured.has(target.spec.name));
for (let round = 0; round < rounds; round++) {
  const start = live.length === 0 ? 0 : round % live.length;
  for (const target of [...live.slice(start), ...live.slice(0, start)]) {
    const name = target.spec.name;
    emit({ type: "mark", target: name, event: "start" });
    try {
      measured.get(name)!.push(await measure(target, round));
    } catch (error) {
      errors[name] = (error as Error).message;
      measured.delete(name);
    }
    emit({ type: "mark", target: name, event: "end" });
  }
  live = live.filter((target) => measured.has(target.spec.name));
}
const results: Record<string, LoadResult> = {};
for (const [name, rounds] of measured) {
  results[name] = combine(rounds, payload.byteLength);
}
emit({ type: "result", results, errors });
await Promise.all(open.map(async ({ client, session }) => {
  await session.close().catch(() => {});
  await client.close().catch(() => {});
}));
Deno.exit(0);
