// Deno's QUIC endpoint has no option for its socket's receive buffer, so it
// gets the kernel's default for every UDP socket (net.core.rmem_default,
// 208 KiB on most distributions). Datagrams that arrive while the relay is
// busy overflow it and are dropped; QUIC resends them after a timeout and
// shrinks its congestion window, so throughput and tail latency suffer
// (one 64 KiB stream through the relay on this project's bench machine:
// ~1,500 drops and 34-35 MB/s at 208 KiB, none and 39-45 MB/s at 4 MiB).

/** What the relay asks operators to set. */
export const RECOMMENDED_UDP_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

const RMEM_DEFAULT = "/proc/sys/net/core/rmem_default";

export interface UdpReceiveBufferAdvice {
  bytes: number;
  recommendedBytes: number;
  fix: string;
}

/**
 * Advice when the kernel's default UDP receive buffer is below the
 * recommendation; undefined when it is not, or where it cannot be read
 * (another OS, a sandbox).
 */
export function udpReceiveBufferAdvice(
  readDefault: () => string = () => Deno.readTextFileSync(RMEM_DEFAULT),
): UdpReceiveBufferAdvice | undefined {
  let bytes: number;
  try {
    bytes = Number(readDefault().trim());
  } catch {
    return undefined;
  }
  if (
    !Number.isFinite(bytes) || bytes >= RECOMMENDED_UDP_RECEIVE_BUFFER_BYTES
  ) {
    return undefined;
  }
  return {
    bytes,
    recommendedBytes: RECOMMENDED_UDP_RECEIVE_BUFFER_BYTES,
    fix:
      `sysctl -w net.core.rmem_default=${RECOMMENDED_UDP_RECEIVE_BUFFER_BYTES} net.core.rmem_max=${RECOMMENDED_UDP_RECEIVE_BUFFER_BYTES}`,
  };
}
