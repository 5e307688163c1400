// The bench runs QUIC as the relay asks operators to (see
// transports/quic/udp_receive_buffer.ts): it raises the kernel's default UDP
// receive buffer for the run where it may (root, writable /proc/sys) and puts
// the old value back afterwards, and it counts the datagrams the kernel
// dropped for want of buffer space, so a run says whether loss shaped it.
import type { CleanupStack } from "./cleanup_stack.ts";
import { RECOMMENDED_UDP_RECEIVE_BUFFER_BYTES } from "../transports/quic/udp_receive_buffer.ts";

const RMEM_DEFAULT = "/proc/sys/net/core/rmem_default";
const RMEM_MAX = "/proc/sys/net/core/rmem_max";

async function readNumber(path: string): Promise<number> {
  return Number((await Deno.readTextFile(path)).trim());
}

/**
 * Raises net.core.rmem_default (and rmem_max, if lower) to the relay's
 * recommendation until `cleanup` runs. Returns what the run used, for the
 * report, and why it could not raise it if it could not.
 */
export async function raiseUdpReceiveBuffers(
  cleanup: CleanupStack,
): Promise<{ bytes: number; note: string }> {
  let before: number;
  try {
    before = await readNumber(RMEM_DEFAULT);
  } catch {
    return { bytes: NaN, note: "unknown (no /proc/sys/net/core)" };
  }
  if (before >= RECOMMENDED_UDP_RECEIVE_BUFFER_BYTES) {
    return { bytes: before, note: "as configured" };
  }
  try {
    const maxBefore = await readNumber(RMEM_MAX);
    const target = String(RECOMMENDED_UDP_RECEIVE_BUFFER_BYTES);
    if (maxBefore < RECOMMENDED_UDP_RECEIVE_BUFFER_BYTES) {
      await Deno.writeTextFile(RMEM_MAX, target);
      cleanup.defer(() => Deno.writeTextFile(RMEM_MAX, String(maxBefore)));
    }
    await Deno.writeTextFile(RMEM_DEFAULT, target);
    cleanup.defer(() => Deno.writeTextFile(RMEM_DEFAULT, String(before)));
    return {
      bytes: RECOMMENDED_UDP_RECEIVE_BUFFER_BYTES,
      note: `raised for the run from ${before}`,
    };
  } catch (error) {
    return {
      bytes: before,
      note: `could not raise it (${
        (error as Error).name
      }): QUIC may lose datagrams`,
    };
  }
}

/** UDP datagrams the kernel dropped because a receive buffer was full. */
export async function udpReceiveBufferDrops(): Promise<number> {
  const snmp = await Deno.readTextFile("/proc/net/snmp").catch(() => "");
  const [names, values] = snmp.split("\n").filter((line) =>
    line.startsWith("Udp:")
  );
  if (names === undefined || values === undefined) return NaN;
  const index = names.split(/\s+/).indexOf("RcvbufErrors");
  return index < 0 ? NaN : Number(values.split(/\s+/)[index]);
}
