// One device agent as a process of its own, pinned to one transport, that
// serves both paths the transparent scenario compares: transparent gRPC
// calls, forwarded to the device's own server (`grpcTarget`), and envelope
// requests (ConnectToDevice), answered by the echo handler. Same agent, same
// connection, so the two paths differ only by how the relay carries them.
// Prints {"type":"status","connected":0|1,"transport":T,"error"?:MSG} on
// every state change and stops when its stdin closes.
// Usage:
//   deno run -A bench/fleet/transparent_device_worker.ts --transport h2|quic \
//     --grpc HOST:PORT --quic HOST:PORT --ca FILE --credentials FILE \
//     --id DEVICE --grpc-target HOST:PORT
import { parseArgs } from "node:util";
import {
  DeviceAgent,
  deviceConnector,
  echoHandler,
  grpcTarget,
} from "../../mod.ts";
import { BENCH_SERVER_NAME } from "../echo_path.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    transport: { type: "string", default: "h2" },
    grpc: { type: "string" },
    quic: { type: "string" },
    ca: { type: "string" },
    credentials: { type: "string" },
    id: { type: "string" },
    "grpc-target": { type: "string" },
  },
});
const required = ["grpc", "quic", "ca", "credentials", "id", "grpc-target"];
const missing = required.filter((key) => !values[key as keyof typeof values]);
if (missing.length > 0) {
  console.error(
    `transparent_device_worker.ts: missing --${missing.join(", --")}`,
  );
  Deno.exit(2);
}
const deviceId = values.id!;
const credentials: Record<string, string> = JSON.parse(
  await Deno.readTextFile(values.credentials!),
);
const token = credentials[deviceId];
if (token === undefined) throw new Error(`no credential for ${deviceId}`);

const agent = new DeviceAgent({
  connector: deviceConnector({
    address: values.grpc!,
    quicAddress: values.quic!,
    caPem: await Deno.readTextFile(values.ca!),
    serverName: BENCH_SERVER_NAME,
    transport: values.transport as "h2" | "quic",
  }),
  deviceId,
  token,
  // The bench's controllers send plaintext: measure the relay, not HPKE.
  allowPlaintext: true,
  grpcTarget: grpcTarget({ address: values["grpc-target"]! }),
});
agent.handle("*", echoHandler);
agent.onState((detail) =>
  console.log(JSON.stringify({
    type: "status",
    connected: detail.state === "connected" ? 1 : 0,
    transport: detail.transport,
    ...(detail.error ? { error: detail.error.message } : {}),
  }))
);
agent.start();
for await (const _ of Deno.stdin.readable) {
  // No commands: stdin closing means the bench is done with us.
}
await agent.close();
Deno.exit(0);
