// What end-to-end encryption costs each end per request, without the relay:
// the controller SDK sealing a request and opening its answer, the device
// agent opening it and sealing the answer (session envelopes, a session set
// up first), against one AES-128-GCM operation through node:crypto and
// through WebCrypto. Wall and process CPU time per operation.
//   deno run -A bench/e2e_cost.ts [--count N] [--payload BYTES]
import { Buffer } from "node:buffer";
import { createCipheriv } from "node:crypto";
import process from "node:process";
import { parseArgs } from "node:util";
import { ControllerE2e } from "../src/e2e/controller_e2e.ts";
import { DeviceE2e } from "../src/e2e/device_e2e.ts";
import { generateDeviceKey, publicKeyMetadata } from "../src/e2e/device_key.ts";
import type { DeviceResponse__Output as DeviceResponse } from "../src/gen/relay/v1/DeviceResponse.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    count: { type: "string", default: "20000" },
    payload: { type: "string", default: "64" },
  },
});
const count = Number(values.count);
const payload = new Uint8Array(Number(values.payload));

async function measure(label: string, run: () => Promise<void> | void) {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < count; i++) await run();
  const used = process.cpuUsage(cpu);
  console.log(
    `${label.padEnd(44)} ${
      ((performance.now() - wall) * 1000 / count).toFixed(1).padStart(6)
    } us wall ${
      ((used.user + used.system) / count).toFixed(1).padStart(6)
    } us CPU`,
  );
}

const deviceKey = await generateDeviceKey();
const device = new DeviceE2e({ key: deviceKey, allowPlaintext: false });
// Sessions created before the device agent started are refused.
await new Promise((resolve) => setTimeout(resolve, 2));
const controller = new ControllerE2e(
  { controllerId: "ctl" },
  "",
  () =>
    Promise.resolve([{
      device_id: "dev",
      metadata: publicKeyMetadata(deviceKey),
    } as never]),
);
const session = controller.session("dev");
await session.prepare("echo", payload); // sets the session up

console.log(`${payload.byteLength} B payload, ${count} operations each`);
const requests: Uint8Array[] = [];
const openers: ((response: DeviceResponse) => Promise<unknown>)[] = [];
await measure("controller: seal a request", () => {
  const prepared = session.prepareNow("echo", payload)!;
  requests.push(prepared.payload);
  openers.push(prepared.open);
});
const answers: Uint8Array[] = [];
let next = 0;
await measure("device: open a request, seal its answer", async () => {
  const opened = await device.open({
    deviceId: "dev",
    controllerId: "ctl",
    method: "echo",
    payload: requests[next++]!,
  });
  answers.push(await opened.seal(opened.payload));
});
next = 0;
await measure("controller: open an answer", async () => {
  const i = next++;
  await openers[i]!({
    device_id: "dev",
    sequence_number: i,
    encrypted_payload: Buffer.from(answers[i]!),
    error: "OK",
    error_message: "",
  } as DeviceResponse);
});

const key = new Uint8Array(16);
const nonce = new Uint8Array(12);
const aad = new Uint8Array(90);
await measure("one AES-128-GCM seal, node:crypto", () => {
  const cipher = createCipheriv("aes-128-gcm", key, nonce);
  cipher.setAAD(aad);
  cipher.update(payload);
  cipher.final();
  cipher.getAuthTag();
});
const webKey = await crypto.subtle.importKey("raw", key, "AES-GCM", false, [
  "encrypt",
]);
await measure("one AES-128-GCM seal, WebCrypto", async () => {
  await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: nonce, additionalData: aad },
    webKey,
    payload,
  );
});
