// The direct reference as its own process: the grpc-js echo server of
// bench/direct_echo_server.ts (ConnectToDevice answers every request with
// its own bytes) with the relay's dev TLS certificate, so the same client
// code reaches it with or without the relay in between. Prints
//   {"type":"ready","address":"127.0.0.1:PORT"}
// and stops when its stdin closes.
// Usage:
//   deno run -A bench/fleet/direct_echo_worker.ts --ca FILE --cert FILE --key FILE
import { parseArgs } from "node:util";
import { startDirectEchoServer } from "../direct_echo_server.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    ca: { type: "string" },
    cert: { type: "string" },
    key: { type: "string" },
  },
});
if (!values.ca || !values.cert || !values.key) {
  console.error(
    "usage: direct_echo_worker.ts --ca FILE --cert FILE --key FILE",
  );
  Deno.exit(2);
}
const server = await startDirectEchoServer({
  caPem: await Deno.readTextFile(values.ca),
  certPem: await Deno.readTextFile(values.cert),
  keyPem: await Deno.readTextFile(values.key),
});
console.log(JSON.stringify({ type: "ready", address: server.address }));
// Wait for stdin to close: the orchestrator is done with us.
for await (const _ of Deno.stdin.readable) {
  // commands are not used
}
await server.close();
Deno.exit(0);
