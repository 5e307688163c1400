// Raw TCP and TLS connections to the gRPC listener: garbage, silence and
// half handshakes, and a measure of when the relay hangs up.
import type { TestRelay } from "../harness.ts";

export function grpcPort(t: TestRelay): number {
  return Number(t.relay.grpcAddress.match(/:(\d+)$/)?.[1]);
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
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  const buffer = new Uint8Array(16 * 1024);
  const drained = (async () => {
    try {
      while (await conn.read(buffer) !== null) {
        // Whatever the relay says before hanging up is irrelevant here.
      }
    } catch {
      // A reset is a close too.
    }
    return "closed" as const;
  })();
  try {
    const outcome = await Promise.race([drained, expired]);
    return outcome === "closed" ? performance.now() - started : -1;
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
