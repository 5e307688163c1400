// A load-generator process holding many controller streams (one
// DeviceCallSession, i.e. one ConnectToDevice stream, per target device),
// spread over several ControllerClient connections. Each stream sends small
// echo requests at a fixed rate (open loop, random phase); a round trip is
// timed from its scheduled send time, so a stalled relay shows up as latency
// rather than as fewer requests. Every request carries bytes of its own and
// its answer is compared with them: an answer that is not its request's echo
// counts as wrong, not ok. Prints one JSON line at the end:
//   {"type":"result","scheduled":N,"ok":N,"wrong":N,"errors":{CODE:N},"latenciesMs":[...]}
// Usage:
//   deno run -A bench/fleet/controller_worker.ts --transport h2|quic \
//     --grpc ADDR --quic ADDR --ca FILE --token-file FILE --prefix dev- \
//     --from 0 [--stride 10] --count 500 --rate 2 --payload 64 --duration-ms 10000 \
//     [--warmup-ms 2000] [--streams-per-client 50]
import { parseArgs } from "node:util";
import {
  ControllerClient,
  controllerConnector,
  type RelayError,
} from "../../mod.ts";
import { BENCH_SERVER_NAME } from "../echo_path.ts";
import { benchPayload } from "../load_patterns.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    transport: { type: "string", default: "h2" },
    grpc: { type: "string" },
    quic: { type: "string" },
    ca: { type: "string" },
    "token-file": { type: "string" },
    prefix: { type: "string", default: "dev-" },
    from: { type: "string", default: "0" },
    count: { type: "string", default: "1" },
    stride: { type: "string", default: "1" },
    rate: { type: "string", default: "1" },
    payload: { type: "string", default: "64" },
    "duration-ms": { type: "string", default: "10000" },
    "warmup-ms": { type: "string", default: "2000" },
    "streams-per-client": { type: "string", default: "50" },
  },
});
const caPem = await Deno.readTextFile(values.ca!);
const token = (await Deno.readTextFile(values["token-file"]!)).trim();
const from = Number(values.from);
const count = Number(values.count);
const stride = Number(values.stride);
const intervalMs = 1000 / Number(values.rate);
const payload = benchPayload(Number(values.payload));
const warmupMs = Number(values["warmup-ms"]);
const durationMs = Number(values["duration-ms"]);
const perClient = Number(values["streams-per-client"]);

const clients: ControllerClient[] = [];
const latenciesMs: number[] = [];
const errors: Record<string, number> = {};
let scheduled = 0;
let ok = 0;
let wrong = 0;

/** Random leading bytes make each request's payload its own. */
function uniquePayload(): Uint8Array {
  const bytes = payload.slice();
  crypto.getRandomValues(bytes.subarray(0, 16));
  return bytes;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);
}

const started = performance.now();
const measureFrom = started + warmupMs;
const stopAt = measureFrom + durationMs;

async function runStream(index: number): Promise<void> {
  if (index % perClient === 0) {
    clients.push(
      new ControllerClient({
        connector: controllerConnector({
          address: values.grpc!,
          quicAddress: values.quic!,
          caPem,
          serverName: BENCH_SERVER_NAME,
          transport: values.transport as "h2" | "quic",
        }),
        token,
        e2e: false, // measure the relay, not the clients' HPKE work
      }),
    );
  }
  const session = clients.at(-1)!.openSession(
    `${values.prefix}${from + index * stride}`,
  );
  const inFlight: Promise<void>[] = [];
  // Random phase: streams do not fire in lockstep.
  let due = started + Math.random() * intervalMs;
  while (due < stopAt) {
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    // A timer may fire a little early: time from the actual send then.
    const sentAt = Math.min(due, performance.now());
    const measured = sentAt >= measureFrom;
    if (measured) scheduled++;
    const sent = uniquePayload();
    const call = session.call("echo", sent, { timeoutMs: 10_000 }).then(
      (answer) => {
        if (!measured) return;
        // Another request's answer, or bytes changed on the way.
        if (!sameBytes(sent, answer)) return void wrong++;
        ok++;
        latenciesMs.push(performance.now() - sentAt);
      },
      (error: RelayError) => {
        if (measured) {
          errors[error.code ?? "ERROR"] = (errors[error.code] ?? 0) + 1;
        }
      },
    );
    inFlight.push(call);
    if (inFlight.length > 64) await inFlight.shift();
    due += intervalMs;
  }
  await Promise.all(inFlight);
  await session.close();
}

await Promise.all(Array.from({ length: count }, (_, i) => runStream(i)));
// No client.close(): its HTTP/2 GOAWAY can abort the relay process inside
// nghttp2 (Deno 2.9.6, denoland/deno#36788); exiting closes the sockets.
console.log(JSON.stringify({
  type: "result",
  scheduled,
  ok,
  wrong,
  errors,
  latenciesMs: latenciesMs.map((ms) => Math.round(ms * 1000) / 1000),
}));
Deno.exit(0);
