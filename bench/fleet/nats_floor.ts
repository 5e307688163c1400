// The floor of a cross-relay hop: NATS request/reply alone between two
// nats.js clients, on different nodes of a 3-node cluster and on one node,
// 1 KiB raw and as the relay's base64 JSON body (src/cluster/cluster_requests.ts).
// `deno run -A bench/fleet/nats_floor.ts` (needs nats-server on PATH or at
// /usr/sbin/nats-server); prints p50/p99 per case.
import { Buffer } from "node:buffer";
import { connectNats } from "../../src/cluster/kv_mirror.ts";
import { NatsCluster } from "../../test/cluster/nats_cluster.ts";
import { summarizeLatencies } from "../latency_stats.ts";

const ROUND_TRIPS = 3000;
const WARMUP = 300;
const payload = new Uint8Array(1024).fill(7);

const nats = await NatsCluster.start(
  Deno.env.get("NATS_SERVER") ?? "/usr/sbin/nats-server",
);
const asker = await connectNats([nats.urls[0]!], "asker", 5000);
const otherNode = await connectNats([nats.urls[1]!], "other-node", 5000);
const sameNode = await connectNats([nats.urls[0]!], "same-node", 5000);
try {
  for (
    const [name, answerer] of [["other node", otherNode], [
      "same node",
      sameNode,
    ]] as const
  ) {
    const subject = `floor.${name.replace(" ", "_")}`;
    answerer.subscribe(subject, {
      callback: (_error, message) => {
        message.respond(message.data);
      },
    });
    await answerer.flush();
    for (const body of ["raw", "base64 json"] as const) {
      const times: number[] = [];
      for (let i = 0; i < WARMUP + ROUND_TRIPS; i++) {
        const start = performance.now();
        if (body === "raw") await asker.request(subject, payload);
        else {
          const wire = JSON.stringify({
            device_id: "d",
            method_name: "echo",
            payload: Buffer.from(payload).toString("base64"),
          });
          const reply = await asker.request(subject, wire);
          Buffer.from(reply.json<{ payload: string }>().payload, "base64");
        }
        if (i >= WARMUP) times.push(performance.now() - start);
      }
      const { p50Ms, p99Ms } = summarizeLatencies(times);
      console.log(
        `${name}, ${body}: p50 ${p50Ms.toFixed(3)} ms, p99 ${
          p99Ms.toFixed(3)
        } ms`,
      );
    }
  }
} finally {
  await asker.close();
  await otherNode.close();
  await sameNode.close();
  await nats.close();
}
