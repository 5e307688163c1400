// Raw TCP and TLS connections to the gRPC listener: garbage, silence and
// half handshakes, and a measure of when the relay hangs up.
import { parseHostPort } from "../../src/config/host_port.ts";
import type { TestRelay } from "../harness.ts";

export function grpcPort(t: TestRelay): number {
  return parseHostPort(t.relay.grpcAddress).port;
}

/** A plain TCP connection to the gRPC port (no TLS). */
export function tcpConnect(t: TestRelay): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port: grpcPort(t) });
}

/** A TLS 1.3 connection to the gRPC port, handshake done, nothing else sent. */
export async function tlsConnect(
  t: TestRelay,
  alpn: string[] = ["h2"],
): Promise<Deno.TlsConn> {
  const tcp = await tcpConnect(t);
  const tls = await Deno.startTls(tcp, {
    hostname: "localhost",
    caCerts: [t.relay.caPem],
    alpnProtocols: alpn,
  });
  try {
    await tls.handshake();
  } catch (error) {
    tls.close();
    throw error;
  }
  return tls;
}

/**
 * Reads (and discards) until the relay closes the connection; resolves with
 * the milliseconds that took, or -1 if it was still open after `timeoutMs`.
 * Closes the connection either way.
 */
export async function closedWithin(
  conn: Deno.Conn,
  timeoutMs: number,
): Promise<number> {
  const started = performance.now();
  const received = await readUntilClosed(conn, timeoutMs);
  return received === undefined ? -1 : performance.now() - started;
}

/** Everything the relay sends until it closes, or undefined if still open after `timeoutMs`. */
export async function readUntilClosed(
  conn: Deno.Conn,
  timeoutMs: number,
): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(16 * 1024);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  const drained = (async () => {
    try {
      for (
        let n = await conn.read(buffer);
        n !== null;
        n = await conn.read(buffer)
      ) {
        chunks.push(buffer.slice(0, n));
      }
    } catch {
      // A reset is a close too.
    }
    return "closed" as const;
  })();
  try {
    if (await Promise.race([drained, expired]) === "timeout") return undefined;
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let offset = 0;
    for (const chunk of chunks) {
      all.set(chunk, offset);
      offset += chunk.length;
    }
    return all;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // The relay closed it already.
    }
    await drained;
  }
}

export const H2_SETTINGS = 0x4;
export const H2_GOAWAY = 0x7;

/** The HTTP/2 client connection preface followed by an empty SETTINGS frame. */
export function h2PrefaceAndSettings(): Uint8Array {
  const preface = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  return new Uint8Array([...preface, 0, 0, 0, H2_SETTINGS, 0, 0, 0, 0, 0]);
}

/** The type of each whole HTTP/2 frame in `bytes` (9-byte headers, 24-bit lengths). */
export function h2FrameTypes(bytes: Uint8Array): number[] {
  const types: number[] = [];
  for (let at = 0; at + 9 <= bytes.length;) {
    const length = (bytes[at]! << 16) | (bytes[at + 1]! << 8) | bytes[at + 2]!;
    types.push(bytes[at + 3]!);
    at += 9 + length;
  }
  return types;
}

/** Writes `bytes`, ignoring a relay that already hung up. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  try {
    let written = 0;
    while (written < bytes.length) {
      written += await conn.write(bytes.subarray(written));
    }
  } catch {
    // Closed by the relay mid-write: that is what the caller measures next.
  }
}

/** Random bytes that are neither TLS nor HTTP/2. */
export function garbage(length: number): Uint8Array {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  bytes[0] = 0x47; // never a TLS record type (0x14-0x18) or the h2 preface 'P'
  return bytes;
}

/**
 * The first part of a TLS ClientHello: the record header announces 512
 * bytes, of which only the handshake header and a few bytes arrive.
 */
export function halfClientHello(): Uint8Array {
  const record = [0x16, 0x03, 0x01, 0x02, 0x00]; // handshake record, 512 bytes
  const hello = [0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]; // ClientHello, TLS 1.2 legacy version
  return new Uint8Array([
    ...record,
    ...hello,
    ...crypto.getRandomValues(new Uint8Array(20)),
  ]);
}
