import { RelayProcess } from "./relay_process.ts";
const t0 = performance.now();
const relay = await RelayProcess.start({ deviceIds: ["a", "b"] });
console.log(
  "started",
  performance.now() - t0,
  relay.endpoints.grpcAddress,
  relay.endpoints.adminToken.length,
);
console.log(await relay.sample(), await relay.memory());
await relay.kill();
const t1 = performance.now();
await relay.restart();
console.log("restarted", performance.now() - t1);
await relay.close();
