// A load-generator process holding many echo devices (DeviceAgent, the
// SDK's own reconnect and jitter) on one transport, each on its own
// connection. Reports on stdout, one JSON object per line:
//   {"type":"status","connected":N,"connects":N,"errors":{..},"atMs":EPOCH_MS}
// every `--report-ms`, and on stdin "connect-times\n" it answers
//   {"type":"connect-times","times":[EPOCH_MS of each device's last connect]}
// Usage:
//   deno run -A bench/fleet/device_worker.ts --transport h2|quic \
//     --grpc HOST:PORT --quic HOST:PORT --ca FILE --credentials FILE \
//     --prefix dev- --from 0 --count 2500 [--ramp-concurrency 10] \
//     [--quic-connect-timeout-ms 15000]
import { parseArgs } from "node:util";
import { DeviceAgent, deviceConnector, echoHandler } from "../../mod.ts";
import { BENCH_SERVER_NAME } from "../echo_path.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    transport: { type: "string", default: "h2" },
    grpc: { type: "string" },
    quic: { type: "string" },
    ca: { type: "string" },
    credentials: { type: "string" },
    prefix: { type: "string", default: "dev-" },
    from: { type: "string", default: "0" },
    count: { type: "string", default: "1" },
    "ramp-concurrency": { type: "string", default: "10" },
    // Longer than the SDK's 5 s: on two cores shared with 20 workers a QUIC
    // handshake can take seconds, and each abandoned one is retried while
    // it still runs out at the relay, which snowballed into a stalled ramp.
    "quic-connect-timeout-ms": { type: "string", default: "15000" },
    "report-ms": { type: "string", default: "200" },
  },
});
// A failed attempt builds several error stacks (grpc-js's caller stack, its
// status error, node streams' destroy), and formatting them took ~30 % of a
// worker's CPU in a reconnect storm (profiled). The devices this process
// stands in for each have a CPU of their own, so it skips the stacks.
Error.stackTraceLimit = 0;
const transport = values.transport as "h2" | "quic";
const credentials: Record<string, string> = JSON.parse(
  await Deno.readTextFile(values.credentials!),
);
const caPem = await Deno.readTextFile(values.ca!);
// One UDP socket for all of this worker's QUIC devices, as a gateway would
// have: Deno keeps ~125 KB of native memory per endpoint ever opened, and
// 10,000 devices each with their own endpoints outgrew the machine.
const quicEndpoint = transport === "quic"
  ? new Deno.QuicEndpoint({ hostname: "0.0.0.0" })
  : undefined;
const from = Number(values.from);
const count = Number(values.count);

const agents: DeviceAgent[] = [];
const lastConnectAt: number[] = new Array(count).fill(0);
let connected = 0;
let connects = 0;
/** Failed attempts and dropped connections since the last forced GC. */
let churn = 0;
const errors: Record<string, number> = {};

function startAgent(index: number): Promise<void> {
  const deviceId = `${values.prefix}${from + index}`;
  const token = credentials[deviceId];
  if (token === undefined) throw new Error(`no credential for ${deviceId}`);
  const agent = new DeviceAgent({
    connector: deviceConnector({
      address: values.grpc!,
      quicAddress: values.quic!,
      caPem,
      serverName: BENCH_SERVER_NAME,
      transport,
      ...(quicEndpoint ? { quicEndpoint } : {}),
      quicConnectTimeoutMs: Number(values["quic-connect-timeout-ms"]),
    }),
    deviceId,
    token,
    allowPlaintext: true, // bench controllers send plaintext: measure the relay
  });
  agent.handle("*", echoHandler);
  let isConnected = false;
  agent.onState((detail) => {
    if (detail.error) {
      churn++;
      // Why devices fail to connect, by message (ids stripped: few keys).
      const reason = detail.error.message.replace(/\d+/g, "N").slice(0, 120);
      errors[reason] = (errors[reason] ?? 0) + 1;
    }
    const now = detail.state === "connected";
    if (now && !isConnected) {
      connected++;
      connects++;
      lastConnectAt[index] = Date.now();
    } else if (!now && isConnected) {
      connected--;
      churn++;
    }
    isConnected = now;
  });
  agents.push(agent);
  const first = agent.waitFor("connected");
  agent.start();
  return first.then(() => {}, () => {});
}

function report(): void {
  console.log(JSON.stringify({
    type: "status",
    connected,
    connects,
    errors,
    atMs: Date.now(),
  }));
}

async function answerCommands(): Promise<void> {
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let buffered = "";
  for await (const chunk of lines) {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const command = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (command === "connect-times") {
        console.log(
          JSON.stringify({ type: "connect-times", times: lastConnectAt }),
        );
      }
    }
  }
  // stdin closed: the orchestrator is done with us.
  clearInterval(collector);
  await Promise.all(agents.map((agent) => agent.close()));
  Deno.exit(0);
}

const reporter = setInterval(report, Number(values["report-ms"]));
// Closed connections free their native buffers only when collected, and V8
// does not count that memory, so it rarely collects on its own in a storm.
// A steady fleet is left alone: a forced full GC (about 50 ms of CPU with
// 500 devices, longer on loaded cores) stalls every device of the process,
// and in the active scenario those stalls were most of the round-trip tail
// charged to the relay.
const gc = (globalThis as { gc?: () => void }).gc;
const collector = gc
  ? setInterval(() => {
    if (churn === 0) return;
    churn = 0;
    gc();
  }, 10_000)
  : undefined;
answerCommands();
// The ramp: at most `ramp-concurrency` first connects in flight.
let next = 0;
const lanes = Array.from(
  { length: Math.min(count, Number(values["ramp-concurrency"])) },
  async () => {
    while (next < count) await startAgent(next++);
  },
);
await Promise.all(lanes);
report();
void reporter;
