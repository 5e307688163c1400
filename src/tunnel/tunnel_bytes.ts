// A tunnel link as a byte duplex: `readable` pulls the device's data frames
// one at a time (nothing is read ahead, so the transport's flow control
// holds back a device whose bytes are not consumed), `writable` sends data
// frames with a bounded queue (writers wait while it is full).
import { RelayError } from "../errors/relay_error.ts";
import type { TunnelLink } from "../core/links.ts";
import type { TunnelFrame__Output } from "../core/messages.ts";

export interface TunnelBytesOptions {
  /** Largest data frame sent; bigger writes are split (default 64 KiB). */
  maxFrameBytes?: number;
  /** Bytes queued towards the device before writers wait (default 256 KiB). */
  highWaterMarkBytes?: number;
}

export interface TunnelBytes {
  /** Bytes from the device. Errors with INVALID_REQUEST on a frame other than `data`. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the device. close() and abort() do not end the link: the core does. */
  readonly writable: WritableStream<Uint8Array>;
}

const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;
const DEFAULT_HIGH_WATER_MARK_BYTES = 256 * 1024;

export function tunnelBytes(
  link: Pick<TunnelLink, "send">,
  /** The link's inbound frames, positioned after the `open` frame. */
  inbound: AsyncIterator<TunnelFrame__Output>,
  options: TunnelBytesOptions = {},
): TunnelBytes {
  const maxFrame = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const next = await inbound.next();
        if (next.done) {
          controller.close();
          return;
        }
        const frame = next.value;
        if (frame.frame !== "data" || frame.data === undefined) {
          throw new RelayError(
            "INVALID_REQUEST",
            "only data frames may follow a tunnel's open frame",
            { source: "downstream" },
          );
        }
        if (frame.data.byteLength === 0) continue;
        controller.enqueue(frame.data);
        return;
      }
    },
    async cancel() {
      await inbound.return?.();
    },
  }, { highWaterMark: 0 });
  const writable = new WritableStream<Uint8Array>(
    {
      async write(chunk) {
        for (let offset = 0; offset < chunk.byteLength; offset += maxFrame) {
          await link.send({ data: chunk.subarray(offset, offset + maxFrame) });
        }
      },
    },
    new ByteLengthQueuingStrategy({
      highWaterMark: options.highWaterMarkBytes ??
        DEFAULT_HIGH_WATER_MARK_BYTES,
    }),
  );
  return { readable, writable };
}
