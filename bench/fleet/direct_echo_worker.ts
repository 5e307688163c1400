// The direct reference as its own process: the grpc-js echo server of
// bench/direct_echo_server.ts (ConnectToDevice answers every request with
// its own bytes) with the relay's dev TLS certificate, so the same client
// code reaches it with or without the relay in between. Prints
//   {"type":"ready","address":"127.0.0.1:PORT"}
// and stops when its stdin closes.
// Usage:
//   deno run -A bench/fleet/direct_echo_worker.ts --ca FILE --cert FILE --key FILE
import { tlsWorkerArgs } from "./tls_worker_args.ts";
import { startDirectEchoServer } from "../direct_echo_server.ts";

const server = await startDirectEchoServer(
  await tlsWorkerArgs("direct_echo_worker.ts"),
);
console.log(JSON.stringify({ type: "ready", address: server.address }));
// Wait for stdin to close: the orchestrator is done with us.
for await (const _ of Deno.stdin.readable) {
  // commands are not used
}
await server.close();
Deno.exit(0);
