import assert from "node:assert/strict";
import {
  RECOMMENDED_UDP_RECEIVE_BUFFER_BYTES,
  udpReceiveBufferAdvice,
} from "./udp_receive_buffer.ts";

Deno.test("a default UDP receive buffer below 4 MiB gets advice naming the sysctl", () => {
  const advice = udpReceiveBufferAdvice(() => "212992\n");
  assert.ok(advice);
  assert.equal(advice.bytes, 212992);
  assert.equal(advice.recommendedBytes, RECOMMENDED_UDP_RECEIVE_BUFFER_BYTES);
  assert.match(advice.fix, /net\.core\.rmem_default=4194304/);
});

Deno.test("no advice when the buffer is large enough or cannot be read", () => {
  assert.equal(udpReceiveBufferAdvice(() => "4194304\n"), undefined);
  assert.equal(udpReceiveBufferAdvice(() => "garbage"), undefined);
  assert.equal(
    udpReceiveBufferAdvice(() => {
      throw new Deno.errors.NotFound("no /proc here");
    }),
    undefined,
  );
});
