import assert from "node:assert/strict";
import { encodeFrame, FrameReader } from "./frame_stream.ts";
import { RelayError } from "../../src/errors/relay_error.ts";

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

/** Splits bytes into chunks of the given sizes (the rest in one last chunk). */
function split(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const size of sizes) {
    chunks.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  chunks.push(bytes.subarray(offset));
  return chunks;
}

Deno.test("frames survive arbitrary chunking", async () => {
  const payloads = [
    new Uint8Array([1, 2, 3]),
    new Uint8Array(0),
    new Uint8Array(1000).fill(7),
  ];
  const wire = new Uint8Array(
    payloads.reduce((n, p) => n + 4 + p.byteLength, 0),
  );
  let offset = 0;
  for (const payload of payloads) {
    const frame = encodeFrame(payload);
    wire.set(frame, offset);
    offset += frame.byteLength;
  }
  for (const sizes of [[], [1], [2, 1, 1, 3], [5, 500, 3, 1]]) {
    const reader = new FrameReader(streamOf(split(wire, sizes)), 4096);
    const read: Uint8Array[] = [];
    for (
      let frame = await reader.next();
      frame !== undefined;
      frame = await reader.next()
    ) {
      read.push(frame);
    }
    assert.deepEqual(read, payloads);
  }
});

Deno.test("an oversized frame is refused from its header alone", async () => {
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, 0xffffffff);
  const reader = new FrameReader(streamOf([header]), 1024);
  await assert.rejects(
    reader.next(),
    (error: RelayError) =>
      error.code === "INVALID_REQUEST" &&
      /exceeds the maximum of 1024/.test(error.message),
  );
});

Deno.test("a stream cut inside a frame is an error, at a boundary a clean end", async () => {
  const frame = encodeFrame(new Uint8Array([9, 9, 9]));
  await assert.rejects(
    new FrameReader(streamOf([frame.subarray(0, 5)]), 64).next(),
    /stream ended inside a frame/,
  );
  assert.equal(await new FrameReader(streamOf([]), 64).next(), undefined);
});

/** A byte stream serving `wire` into the reader's own buffers; records each buffer size asked for. */
function byteStreamOf(
  wire: Uint8Array,
  asked: number[],
  maxPerRead = Infinity,
): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      const request = controller.byobRequest!;
      const view = request.view as Uint8Array;
      asked.push(view.byteLength);
      if (offset === wire.byteLength) {
        controller.close();
        request.respond(0);
        return;
      }
      const n = Math.min(view.byteLength, wire.byteLength - offset, maxPerRead);
      view.set(wire.subarray(offset, offset + n));
      offset += n;
      request.respond(n);
    },
  });
}

Deno.test("byte streams are read into small buffers while idle and large ones inside a big frame", async () => {
  const small = new Uint8Array([9, 9, 9]);
  const big = new Uint8Array(200_000).fill(5);
  const wire = new Uint8Array([...encodeFrame(small), ...encodeFrame(big)]);
  const asked: number[] = [];
  const reader = new FrameReader(byteStreamOf(wire, asked), 1 << 20);
  assert.deepEqual(await reader.next(), small);
  assert.deepEqual(await reader.next(), big);
  assert.equal(await reader.next(), undefined);
  assert.equal(asked[0], 512, "a stream waiting for a frame holds 512 bytes");
  assert.ok(asked.includes(64 * 1024), `asked ${asked}`);
  assert.ok(Math.max(...asked) <= 64 * 1024, `asked ${asked}`);
});

Deno.test("a frame up to 128 KiB is read straight into one buffer, packet by packet", async () => {
  const payloads = [
    new Uint8Array(100_000).map((_, i) => i % 251),
    new Uint8Array([1, 2]),
    new Uint8Array(70_000).fill(3),
  ];
  const wire = new Uint8Array(payloads.flatMap((p) => [...encodeFrame(p)]));
  const asked: number[] = [];
  // QUIC hands over about a packet per read.
  const reader = new FrameReader(byteStreamOf(wire, asked, 1200), 1 << 20);
  for (const payload of payloads) {
    assert.deepEqual(await reader.next(), payload);
  }
  assert.equal(await reader.next(), undefined);
  // After the 512-byte first read, the rest of the 100,000-byte frame.
  assert.equal(asked[1], 100_000 - (512 - 4), `asked ${asked.slice(0, 4)}`);

  const cut = encodeFrame(new Uint8Array(5000)).subarray(0, 3000);
  await assert.rejects(
    new FrameReader(byteStreamOf(cut, [], 1200), 1 << 20).next(),
    /stream ended inside a frame/,
  );
});
