// Messages per second through the MQTT tunnel, printed for the record:
// 10,000 messages (MQTT_TUNNEL_MESSAGES) of 100 bytes at QoS 0 and QoS 1,
// both directions, over both transports, with the relay's embedded broker
// and with an external Mosquitto. The clients run in their own processes
// (mosquitto_pub -l, mosquitto_sub -C), so this process holds only the
// relay (with its embedded broker) and the device agent, which share its
// one JavaScript thread here (on real machines they do not). The same
// clients straight to the broker give the baseline.
import assert from "node:assert/strict";
import { TRANSPORTS } from "./harness.ts";
import {
  BROKERS,
  connectMqtt,
  mosquittoArgs,
  tools,
  withTunnel,
} from "./mqtt_tunnel_fixture.ts";

/** MQTT_TUNNEL_MESSAGES overrides the count (e.g. 100000 for steady-state rates). */
const MESSAGES = Number(Deno.env.get("MQTT_TUNNEL_MESSAGES") ?? 10_000);
const PAYLOAD_BYTES = 100;

interface Run {
  /** Where the publisher connects (port), and where the subscriber does. */
  publishTo: number;
  subscribeTo: number;
  brokerUrl: string;
  topic: string;
  qos: 0 | 1;
}

/**
 * Starts the subscriber, waits until it is subscribed (it receives a
 * retained marker first), then times the publisher from its start until the
 * subscriber has every message.
 */
async function measure(run: Run): Promise<number> {
  const marker = `${run.topic}/ready`;
  const outside = await connectMqtt(run.brokerUrl, 4);
  await outside.publishAsync(marker, "ready", { qos: 1, retain: true });
  await outside.endAsync();
  const subscriber = new Deno.Command(tools.path("mosquitto_sub"), {
    args: [
      ...mosquittoArgs(run.subscribeTo, "311"),
      "-q",
      String(run.qos),
      "-t",
      run.topic,
      "-t",
      marker,
      "-C",
      String(MESSAGES + 1),
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = subscriber.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let text = "";
  while (!text.includes("ready\n")) {
    const { value, done } = await lines.read();
    if (done) throw new Error("mosquitto_sub ended before subscribing");
    text += value;
  }
  const line = "x".repeat(PAYLOAD_BYTES) + "\n";
  const input = new TextEncoder().encode(line.repeat(MESSAGES));
  const started = performance.now();
  const publisher = new Deno.Command(tools.path("mosquitto_pub"), {
    args: [
      ...mosquittoArgs(run.publishTo, "311"),
      "-q",
      String(run.qos),
      "-t",
      run.topic,
      "-l",
    ],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Fed while the subscriber's output is read (a full pipe would stall it),
  // and closed only once everything arrived: at the end of its input
  // mosquitto_pub -l drops QoS 0 messages it could not send yet.
  const writer = publisher.stdin.getWriter();
  const fed = writer.write(input);
  const published = publisher.output(); // drains its stderr meanwhile
  // Count whole lines only: a chunk may end inside one.
  let received = 0;
  let partial = text.slice(text.indexOf("ready\n") + "ready\n".length);
  const count = () => {
    const complete = partial.split("\n");
    partial = complete.pop() ?? "";
    received += complete.filter((l) => l.length === PAYLOAD_BYTES).length;
  };
  count();
  const timeout = setTimeout(() => subscriber.kill("SIGKILL"), 60_000);
  for (;;) {
    const { value, done } = await lines.read();
    if (done) break;
    partial += value;
    count();
  }
  const elapsedMs = performance.now() - started;
  await fed;
  await writer.close();
  const [publisherResult, subscribed] = await Promise.all([
    published,
    subscriber.status,
  ]);
  clearTimeout(timeout);
  await subscriber.stderr.cancel();
  assert.equal(
    publisherResult.code,
    0,
    new TextDecoder().decode(publisherResult.stderr),
  );
  assert.equal(subscribed.code, 0);
  assert.equal(received, MESSAGES);
  return MESSAGES / (elapsedMs / 1000);
}

tools.test("MQTT tunnel throughput: messages of 100 bytes, QoS 0 and 1 (printed)", async () => {
  const rows: string[] = [];
  for (const broker of BROKERS) {
    for (const transport of TRANSPORTS) {
      await withTunnel({ transport, broker }, async (f) => {
        for (const qos of [0, 1] as const) {
          const base = { brokerUrl: f.broker.url, qos };
          const up = await measure({
            ...base,
            publishTo: f.port,
            subscribeTo: f.broker.port,
            topic: `device/${f.deviceId}/bench/${qos}`,
          });
          const down = await measure({
            ...base,
            publishTo: f.broker.port,
            subscribeTo: f.port,
            topic: `cmd/${f.deviceId}/bench/${qos}`,
          });
          rows.push(
            `${broker.padEnd(9)} ${transport.padEnd(6)} QoS ${qos}  ${
              rate(up)
            }  ${rate(down)}`,
          );
          if (transport !== TRANSPORTS[0]) continue;
          const direct = await measure({
            ...base,
            publishTo: f.broker.port,
            subscribeTo: f.broker.port,
            topic: `device/${f.deviceId}/direct/${qos}`,
          });
          rows.push(
            `${broker.padEnd(9)} direct QoS ${qos}  ${
              rate(direct)
            }  (same clients, no tunnel)`,
          );
        }
      });
    }
  }
  console.log(
    `MQTT tunnel throughput, ${MESSAGES} messages of ${PAYLOAD_BYTES} bytes (msg/s):\n` +
      `broker    path          device->broker  broker->device\n` +
      rows.join("\n"),
  );
});

function rate(messagesPerSecond: number): string {
  return messagesPerSecond.toFixed(0).padStart(14);
}
