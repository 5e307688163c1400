import assert from "node:assert/strict";
import * as mqttPacket from "mqtt-packet";
import { Buffer } from "node:buffer";
import { joinParts, MqttPacketFramer } from "./tunnel_packet_framer.ts";

function encode(packet: mqttPacket.Packet): Uint8Array {
  return mqttPacket.generate(packet, { protocolVersion: 4 });
}

Deno.test("framer splits and joins packets across chunks and enforces the limit", () => {
  const a = encode({
    cmd: "publish",
    topic: "t",
    payload: Buffer.alloc(300),
    qos: 0,
    dup: false,
    retain: false,
  });
  const b = encode({ cmd: "pingreq" });
  const all = new Uint8Array([...a, ...b, ...a]);
  const framer = new MqttPacketFramer(1024);
  const packets = [
    ...framer.push(all.subarray(0, 2)),
    ...framer.push(all.subarray(2, 200)),
    ...framer.push(all.subarray(200, a.length + 1)),
    ...framer.push(all.subarray(a.length + 1)),
  ];
  assert.deepEqual(packets.map((p) => p.byteLength), [
    a.length,
    b.length,
    a.length,
  ]);
  assert.deepEqual(packets[0], new Uint8Array(a));
  assert.equal(framer.pendingBytes, 0);
  const small = new MqttPacketFramer(100);
  assert.throws(() => small.push(a.subarray(0, 3)), /exceeds the limit/);
  assert.equal(small.limitExceeded, true);
});

Deno.test("joinParts keeps adjacent views of one buffer uncopied", () => {
  const buffer = new Uint8Array([1, 2, 3, 4, 5]);
  const joined = joinParts([buffer.subarray(0, 2), buffer.subarray(2, 4)]);
  assert.equal(joined.buffer, buffer.buffer);
  assert.deepEqual(joined, new Uint8Array([1, 2, 3, 4]));
  const copied = joinParts([buffer.subarray(3), buffer.subarray(0, 1)]);
  assert.deepEqual(copied, new Uint8Array([4, 5, 1]));
  assert.deepEqual(joinParts([]), new Uint8Array(0));
});
