// `relay ctl watch`: the fleet's presence as the relay publishes it on MQTT.
// It reads the retained per-device presence first (the current fleet in one
// subscription), then follows online/offline events and relay status. Access
// is whatever the broker grants these credentials: the relay's RBAC does not
// apply here, so production brokers should restrict relay/# to operators.
import mqtt from "mqtt";
import { RelayError } from "../errors/relay_error.ts";
import {
  DEVICE_OFFLINE_TOPIC,
  DEVICE_ONLINE_TOPIC,
  DEVICE_PRESENCE_FILTER,
  presenceTopicDevice,
} from "../mqtt/mqtt_topics.ts";
import { type Parsed, parseDuration, stringFlag } from "./cli_args.ts";

export const WATCH_OPTIONS = {
  mqtt: { type: "string" },
  "mqtt-username": { type: "string" },
  "mqtt-password": { type: "string" },
  "mqtt-ca": { type: "string" },
  count: { type: "string" },
  for: { type: "string" },
} as const;

export const WATCH_USAGE =
  `  watch [--mqtt URL] [--mqtt-username U] [--mqtt-password P] [--mqtt-ca FILE]
        [--json] [--count N] [--for DURATION]
                         follow presence on MQTT (default mqtt://127.0.0.1:1883, the
                         embedded broker; env RELAY_MQTT_URL)`;

const RELAY_STATUS_FILTER = "relay/relay/+/status";

export async function watch(parsed: Parsed): Promise<number> {
  const url = stringFlag(parsed, "mqtt") ?? Deno.env.get("RELAY_MQTT_URL") ??
    "mqtt://127.0.0.1:1883";
  const count = Number(stringFlag(parsed, "count") ?? "0");
  if (!Number.isInteger(count) || count < 0) {
    throw new RelayError("INVALID_REQUEST", "--count must be a whole number");
  }
  const forMs = stringFlag(parsed, "for")
    ? parseDuration(stringFlag(parsed, "for")!, "for")
    : 0;
  const caPath = stringFlag(parsed, "mqtt-ca");
  const username = stringFlag(parsed, "mqtt-username");
  const password = stringFlag(parsed, "mqtt-password");
  const client = await mqtt.connectAsync(url, {
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(caPath ? { ca: await Deno.readTextFile(caPath) } : {}),
    reconnectPeriod: 1000,
    connectTimeout: 5000,
  }).catch((error) => {
    throw new RelayError(
      "UNAVAILABLE",
      `cannot connect to MQTT broker ${url}: ${(error as Error).message}`,
    );
  });
  let printed = 0;
  const done = Promise.withResolvers<void>();
  const timer = forMs > 0 ? setTimeout(done.resolve, forMs) : undefined;
  client.on("message", (topic, payload) => {
    const line = parsed.values.json === true
      ? JSON.stringify({ topic, payload: parseJson(payload) })
      : describe(topic, payload);
    if (line === undefined) return;
    console.log(line);
    if (count > 0 && ++printed >= count) done.resolve();
  });
  await client.subscribeAsync([
    DEVICE_PRESENCE_FILTER,
    DEVICE_ONLINE_TOPIC,
    DEVICE_OFFLINE_TOPIC,
    RELAY_STATUS_FILTER,
  ], { qos: 1 });
  const stop = () => done.resolve();
  Deno.addSignalListener("SIGINT", stop);
  try {
    await done.promise;
  } finally {
    clearTimeout(timer);
    Deno.removeSignalListener("SIGINT", stop);
    await client.endAsync();
  }
  return 0;
}

/** One human-readable line per message; undefined for a cleared retained presence. */
function describe(topic: string, payload: Uint8Array): string | undefined {
  if (payload.byteLength === 0) return undefined;
  const event = parseJson(payload) as Record<string, unknown>;
  const field = (name: string) =>
    event[name] === undefined || event[name] === "" ? [] : [
      `${name}=${event[name]}`,
    ];
  if (presenceTopicDevice(topic) !== undefined) {
    return [
      "present",
      presenceTopicDevice(topic),
      ...field("state"),
      ...field("transport"),
      ...field("relay_id"),
      ...field("generation"),
    ].join(" ");
  }
  if (topic === DEVICE_ONLINE_TOPIC || topic === DEVICE_OFFLINE_TOPIC) {
    return [
      topic === DEVICE_ONLINE_TOPIC ? "online" : "offline",
      event.device_id,
      ...field("reason"),
      ...field("transport"),
      ...field("relay_id"),
      ...field("generation"),
    ].join(" ");
  }
  return [
    "relay",
    topic.split("/")[2],
    ...field("state"),
    ...field("reason"),
  ].join(" ");
}

function parseJson(payload: Uint8Array): unknown {
  const text = new TextDecoder().decode(payload);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
