import assert from "node:assert/strict";
import { codecFor } from "./relay_codec.ts";
import { encodeFrame } from "./frame_stream.ts";
import type { ControllerMessage } from "../../src/core/messages.ts";

Deno.test("a codec's frame is the encoded message behind its length header", () => {
  const codec = codecFor<ControllerMessage>("ControllerMessage");
  for (const size of [0, 3, 65_536]) {
    const message = {
      target_device_id: "dev-1",
      method_name: "echo",
      sequence_number: 7,
      encrypted_payload: new Uint8Array(size).fill(size % 256),
    } as ControllerMessage;
    const frame = codec.frame(message);
    assert.deepEqual(
      new Uint8Array(frame),
      encodeFrame(codec.encode(message)),
    );
    assert.equal(
      new DataView(frame.buffer, frame.byteOffset).getUint32(0),
      frame.byteLength - 4,
    );
  }
});
