// A raw relay.v1 QUIC client for hostile inputs: any bytes on any stream,
// frames read back one by one (see transports/quic/browser/relay_wire.js
// for the framing: a 4-byte big-endian length, then the encoded message;
// relay_codec.ts has the codecs, the relay's own).
import type { StreamOpen } from "../../src/gen/relay/v1/StreamOpen.ts";
import { parseHostPort } from "../../src/config/host_port.ts";
import { FrameReader } from "../../transports/quic/frame_stream.ts";
import { relayCodecs } from "../../transports/quic/relay_codec.ts";
import type { TestRelay } from "../harness.ts";

export type StreamKind = NonNullable<StreamOpen["kind"]>;

/** The StreamOpen frame that starts every relay.v1 QUIC stream. */
export const openFrame = (kind: StreamKind, token = ""): Uint8Array =>
  relayCodecs.open.frame({
    kind,
    authorization: token === "" ? "" : `Bearer ${token}`,
  });

/** A frame header announcing `length` bytes, followed by only a few of them. */
export function frameHeader(length: number): Uint8Array {
  const bytes = new Uint8Array(4 + 16);
  new DataView(bytes.buffer).setUint32(0, length);
  return bytes;
}

export interface RawQuicStream {
  writer: WritableStreamDefaultWriter<Uint8Array>;
  frames: FrameReader;
}

export interface RawQuic {
  conn: Deno.QuicConn;
  stream(...chunks: Uint8Array[]): Promise<RawQuicStream>;
  close(): void;
}

export interface RawQuicOptions {
  /** Keep-alive of the client (so only the relay can end an idle connection). */
  keepAliveMs?: number;
  idleTimeoutMs?: number;
  alpn?: string;
}

export async function rawQuic(
  t: TestRelay,
  options: RawQuicOptions = {},
): Promise<RawQuic> {
  const { host, port } = parseHostPort(t.relay.quicAddress);
  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1" });
  let conn: Deno.QuicConn;
  try {
    conn = await Deno.connectQuic({
      endpoint,
      hostname: host,
      port,
      alpnProtocols: [options.alpn ?? "relay.v1"],
      caCerts: [t.relay.caPem],
      serverName: "localhost",
      ...(options.keepAliveMs
        ? { keepAliveInterval: options.keepAliveMs }
        : {}),
      ...(options.idleTimeoutMs
        ? { maxIdleTimeout: options.idleTimeoutMs }
        : {}),
    });
  } catch (error) {
    endpoint.close();
    throw error;
  }
  return {
    conn,
    async stream(...chunks) {
      const stream = await conn.createBidirectionalStream();
      const writer = stream.writable.getWriter();
      for (const chunk of chunks) await writer.write(chunk);
      return { writer, frames: new FrameReader(stream.readable, 64 << 20) };
    },
    close() {
      try {
        conn.close({ closeCode: 0, reason: "done" });
      } catch {
        // Already closed by the relay.
      }
      endpoint.close();
    },
  };
}

export interface StreamOutcome {
  frames: Uint8Array[];
  /** "fin": the relay ended the stream cleanly; "error": it reset it. */
  end: "fin" | "error";
}

/** Reads frames until the relay ends the stream; fails after `timeoutMs`. */
export async function readToEnd(
  frames: FrameReader,
  timeoutMs = 2000,
): Promise<StreamOutcome> {
  const seen: Uint8Array[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    for (;;) {
      const frame = await Promise.race([frames.next(), timeout]);
      if (frame === "timeout") {
        await frames.cancel();
        throw new Error(`the relay left the stream open for ${timeoutMs} ms`);
      }
      if (frame === undefined) return { frames: seen, end: "fin" };
      seen.push(frame);
    }
  } catch (error) {
    if ((error as Error).message.startsWith("the relay left")) throw error;
    return { frames: seen, end: "error" };
  } finally {
    clearTimeout(timer);
  }
}

/** The error carried by the last frame of a controller stream, if any. */
export function controllerError(outcome: StreamOutcome) {
  const last = outcome.frames.at(-1);
  return last === undefined
    ? undefined
    : relayCodecs.controllerFrame.decode(last).error ?? undefined;
}

/** The error carried by the last frame of a device stream, if any. */
export function deviceError(outcome: StreamOutcome) {
  const last = outcome.frames.at(-1);
  return last === undefined
    ? undefined
    : relayCodecs.relayMessage.decode(last).error ?? undefined;
}

/** Bytes that decode as no protobuf message (a truncated varint field). */
export const BAD_PROTOBUF = new Uint8Array([
  0x08,
  0xff,
  0xff,
  0xff,
  0xff,
  0xff,
]);
