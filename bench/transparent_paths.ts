// Diagnosis of transparent gRPC calls (docs/benchmarks.md, "Transparent gRPC
// calls: where the time goes"): sequential 1 KiB unary calls in one process
// (relay, device agent over HTTP/2, the device's grpc-js server and the
// client, as test/transparent's rig builds them) over one path:
//   direct       grpc-js client → the device's server (h2c)
//   envelope     controller SDK session (E2E off) → relay → echo handler
//   transparent  grpc-js client → relay (relay-device-id) → agent → server
// Prints the time per call. Run it under `strace -f -c -e trace=sendto` for
// the socket writes per call, or with `--cpu-prof` for a profile.
//   deno run -A bench/transparent_paths.ts transparent [CALLS]
import * as grpc from "@grpc/grpc-js";
import { JsTestServer } from "../test/transparent/js_test_server.ts";
import { testsvc } from "../test/transparent/testsvc_client.ts";
import { startRig } from "../test/transparent/transparent_rig.ts";

const path = Deno.args[0] ?? "transparent";
const calls = Number(Deno.args[1] ?? 2000);
const WARMUP = 200;
const rig = await startRig("h2", { server: () => JsTestServer.start() });
const payload = new Uint8Array(1024);
let call: () => Promise<void>;
if (path === "direct") {
  const client = new grpc.Client(
    rig.server.address,
    grpc.credentials.createInsecure(),
  );
  const svc = testsvc(client);
  call = async () => {
    const { status } = await svc.unary({}, { text: "x", payload }).result;
    if (status.code !== grpc.status.OK) throw new Error(status.details);
  };
} else if (path === "envelope") {
  await rig.t.device("envelope-dev");
  const session = rig.t.controller(undefined, { e2e: false })
    .openSession("envelope-dev");
  call = async () => void await session.call("echo", payload);
} else if (path === "transparent") {
  call = async () => {
    const { status } = await rig.svc.unary(rig.target(), { text: "x", payload })
      .result;
    if (status.code !== grpc.status.OK) throw new Error(status.details);
  };
} else {
  throw new Error(`path: direct, envelope or transparent, not ${path}`);
}
for (let i = 0; i < WARMUP; i++) await call();
const started = performance.now();
for (let i = 0; i < calls; i++) await call();
const perCall = (performance.now() - started) / calls;
console.log(
  `${path}: ${calls} calls after ${WARMUP}, ${perCall.toFixed(3)} ms each`,
);
await rig.close();
