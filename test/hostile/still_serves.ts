// "The relay still serves a well-behaved client": after every hostile input,
// a fresh device agent connects over the case's transport and answers a
// fresh admin controller's request through the relay.
import assert from "node:assert/strict";
import { decode, encode, type TestRelay } from "../harness.ts";
import { withDeadline } from "../with_deadline.ts";

let serial = 0;

export async function assertStillServes(
  t: TestRelay,
  label = "well-behaved",
): Promise<void> {
  const deviceId = `${label}-${++serial}`;
  await withDeadline(
    t.device(deviceId),
    5000,
    `well-behaved device ${deviceId} to connect`,
  );
  const message = `still serving ${deviceId}`;
  const reply = await withDeadline(
    t.controller().call(deviceId, "echo", encode(message), {
      timeoutMs: 3000,
    }),
    5000,
    `a round trip to ${deviceId}`,
  );
  assert.equal(decode(reply), message, "the well-behaved round trip");
  const listed = await withDeadline(
    t.controller().listDevices(),
    5000,
    "ListOnlineDevices",
  );
  assert.ok(
    listed.some((device) => device.device_id === deviceId),
    `${deviceId} is listed online`,
  );
}
