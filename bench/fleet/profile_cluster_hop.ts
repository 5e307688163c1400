// Where a cross-relay hop's time goes: a controller on relay A calls an
// HTTP/2 echo device on relay A, then one on relay B (relay.v1 envelope
// path, 1 KiB, one request after another), and each process's CPU time is
// sampled around each run: relay A, relay B, the NATS nodes, this process
// (controller and devices) and the whole machine. CPU per request per
// process, next to the p50, says whether the hop costs work or waiting.
// Usage: deno run -A bench/fleet/profile_cluster_hop.ts [REQUESTS]
import { controllerConnector } from "../../mod.ts";
import { ControllerClient } from "../../src/sdk/controller_client.ts";
import { summarizeLatencies } from "../latency_stats.ts";
import { CountingDevice } from "./counting_device.ts";
import { sampleMachine, sampleProcess } from "./process_stats.ts";
import { RelayCluster } from "./relay_cluster.ts";

const REQUESTS = Number(Deno.args[0] ?? 3000);
const WARMUP = 300;
const payload = new Uint8Array(1024).fill(1);

const cluster = await RelayCluster.start(
  Deno.env.get("NATS_SERVER") ?? "/usr/sbin/nats-server",
  {
    relays: 2,
    deviceIds: ["hop-same", "hop-cross"],
    config: {
      "observability.logging.level": "warn",
      "relay.mqtt.enabled": false,
    },
  },
);
const devices: CountingDevice[] = [];
const controller = new ControllerClient({
  connector: controllerConnector(cluster.clientOptions("h2", [0])),
  token: cluster.adminToken,
  e2e: false,
});
try {
  for (const [id, relay] of [["hop-same", 0], ["hop-cross", 1]] as const) {
    devices.push(
      await CountingDevice.start({
        deviceId: id,
        token: cluster.credentials[id]!,
        relays: cluster.clientOptions("h2", [relay]),
      }),
    );
  }
  const processes: [string, number[]][] = [
    ["relay A", [cluster.relays[0]!.pid]],
    ["relay B", [cluster.relays[1]!.pid]],
    ["NATS nodes", cluster.nats.pids],
    ["controller and devices", [Deno.pid]],
  ];
  const cpu = async () =>
    await Promise.all(
      processes.map(async ([, pids]) => {
        const samples = await Promise.all(pids.map(sampleProcess));
        return samples.reduce((sum, sample) => sum + sample.cpuSeconds, 0);
      }),
    );
  for (const id of ["hop-same", "hop-cross"]) {
    // The cross device must be listed on relay A before it is called there.
    while (!(await controller.listDevices()).some((d) => d.device_id === id)) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const session = controller.openSession(id);
    for (let i = 0; i < WARMUP; i++) await session.call("echo", payload);
    const before = await cpu();
    const machineBefore = await sampleMachine();
    const times: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const start = performance.now();
      await session.call("echo", payload);
      times.push(performance.now() - start);
    }
    const after = await cpu();
    const machineAfter = await sampleMachine();
    const { p50Ms, p99Ms } = summarizeLatencies(times);
    console.log(
      `\n${id}: p50 ${p50Ms.toFixed(3)} ms, p99 ${p99Ms.toFixed(3)} ms; ` +
        `CPU per request:`,
    );
    processes.forEach(([name], index) => {
      const us = (after[index]! - before[index]!) * 1e6 / REQUESTS;
      console.log(`  ${name.padEnd(24)} ${us.toFixed(0).padStart(5)} µs`);
    });
    const machineUs = (machineAfter.cpuSeconds - machineBefore.cpuSeconds) *
      1e6 / REQUESTS;
    console.log(
      `  ${"whole machine".padEnd(24)} ${machineUs.toFixed(0).padStart(5)} µs`,
    );
    await session.close();
  }
} finally {
  await controller.close();
  for (const device of devices) await device.close();
  await cluster.close();
}
