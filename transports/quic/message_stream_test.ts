import assert from "node:assert/strict";
import { FrameReader } from "./frame_stream.ts";
import { type BidirectionalStream, MessageStream } from "./message_stream.ts";
import { readStreamOpen } from "./opened_stream.ts";
import { relayCodecs } from "./relay_codec.ts";

/** Two ends of one in-memory bidirectional stream. */
function streamPair(): [BidirectionalStream, BidirectionalStream] {
  const there = new TransformStream<Uint8Array, Uint8Array>();
  const back = new TransformStream<Uint8Array, Uint8Array>();
  return [
    { readable: back.readable, writable: there.writable },
    { readable: there.readable, writable: back.writable },
  ];
}

function tunnelStream(end: BidirectionalStream, frames?: FrameReader) {
  return new MessageStream(end, {
    frames: frames ?? new FrameReader(end.readable, 1 << 20),
    decode: relayCodecs.tunnelFrame.decode,
    encode: relayCodecs.tunnelFrame,
  });
}

const text = (data: Uint8Array | undefined) => new TextDecoder().decode(data);

Deno.test("a message stream starts with StreamOpen and ends with FIN after its last message", async () => {
  const [client, relay] = streamPair();
  const sender = tunnelStream(client);
  const relayFrames = new FrameReader(relay.readable, 1 << 20);
  const sent = (async () => {
    await sender.writeOpen({ kind: "TUNNEL", authorization: "" });
    await sender.write({ data: new TextEncoder().encode("one") });
    await sender.end({ data: new TextEncoder().encode("last") });
  })();
  const open = await readStreamOpen(relayFrames, 1000);
  assert.equal(open.kind, "TUNNEL");
  const received = await Array.fromAsync(
    tunnelStream(relay, relayFrames).messages(),
  );
  await sent;
  assert.deepEqual(received.map((frame) => text(frame.data)), ["one", "last"]);
});

Deno.test("an aborted message stream fails the peer's reading, a malformed frame fails as the decoder says", async () => {
  const [client, relay] = streamPair();
  const reading = Array.fromAsync(tunnelStream(relay).messages());
  tunnelStream(client).abort();
  await assert.rejects(reading);

  const [left, right] = streamPair();
  const strict = new MessageStream(right, {
    frames: new FrameReader(right.readable, 1 << 20),
    decode: (): never => {
      throw new Error("not this one");
    },
    encode: relayCodecs.tunnelFrame,
  });
  const failing = Array.fromAsync(strict.messages());
  const sender = tunnelStream(left);
  await sender.write({ data: new Uint8Array([1]) });
  await assert.rejects(failing, /not this one/);
  strict.abort();
  sender.abort();
});
