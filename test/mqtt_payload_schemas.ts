// The JSON Schemas of docs/schemas/, compiled with Ajv (draft 2020-12), to
// check real payloads the relay published.
import assert from "node:assert/strict";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const SCHEMAS = [
  "device_online_event",
  "device_offline_event",
  "device_presence",
  "relay_status",
  "relay_telemetry",
  "device_status",
  "device_telemetry",
] as const;
export type PayloadSchema = typeof SCHEMAS[number];

// strictRequired off: relay_status requires "reason" in an if/then branch.
const ajv = new Ajv2020({
  strict: true,
  strictRequired: false,
  allErrors: true,
});
addFormats.default(ajv);
const validators = new Map(
  await Promise.all(SCHEMAS.map(async (name) => {
    const url = new URL(`../docs/schemas/${name}.schema.json`, import.meta.url);
    const schema = JSON.parse(await Deno.readTextFile(url));
    return [name, ajv.compile(schema)] as const;
  })),
);

/** Asserts that `payload` (JSON text) is valid under the named schema. */
export function assertPayload(schema: PayloadSchema, payload: string): void {
  const validate = validators.get(schema)!;
  const valid = validate(JSON.parse(payload));
  assert.ok(
    valid,
    `${schema}: ${ajv.errorsText(validate.errors)} in ${payload}`,
  );
}

/** The schema of a topic the relay publishes to. */
export function schemaOf(topic: string): PayloadSchema | undefined {
  if (topic === "relay/device/online") return "device_online_event";
  if (topic === "relay/device/offline") return "device_offline_event";
  if (/^relay\/device\/[^/]+\/presence$/.test(topic)) return "device_presence";
  if (/^relay\/relay\/[^/]+\/status$/.test(topic)) return "relay_status";
  if (/^telemetry\/relay\/[^/]+$/.test(topic)) return "relay_telemetry";
  if (/^device\/[^/]+\/status$/.test(topic)) return "device_status";
  if (/^telemetry\/[^/]+$/.test(topic)) return "device_telemetry";
  return undefined;
}

/** Validates every non-empty message on the relay's topics; returns how many. */
export function assertAllPayloads(
  messages: readonly { topic: string; text: string }[],
): number {
  let checked = 0;
  for (const { topic, text } of messages) {
    const schema = schemaOf(topic);
    if (schema === undefined || text === "") continue;
    assertPayload(schema, text);
    checked++;
  }
  return checked;
}
