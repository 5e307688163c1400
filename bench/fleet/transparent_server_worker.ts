// The device's own gRPC server (transparent_echo_service.ts) as a process of
// its own, so it shares no event loop with the agents or the client. Prints
//   {"type":"ready","plaintext":"127.0.0.1:P","tls":"127.0.0.1:Q"}
// and stops when its stdin closes.
// Usage:
//   deno run -A bench/fleet/transparent_server_worker.ts --ca FILE \
//     --cert FILE --key FILE
import { tlsWorkerArgs } from "./tls_worker_args.ts";
import { startTransparentEchoServer } from "./transparent_echo_service.ts";

const server = await startTransparentEchoServer(
  await tlsWorkerArgs("transparent_server_worker.ts"),
);
console.log(JSON.stringify({
  type: "ready",
  plaintext: server.plaintextAddress,
  tls: server.tlsAddress,
}));
for await (const _ of Deno.stdin.readable) {
  // No commands: stdin closing means the bench is done with us.
}
await server.close();
Deno.exit(0);
