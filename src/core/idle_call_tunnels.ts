// GRPC_CALL tunnels kept after their call, per device, for the next call to
// that device: it then starts with one frame on an open stream instead of a
// GrpcCallStart on the device's control stream and a new tunnel (another
// stream, and the device's credential checked again). Bounded per device; a
// tunnel that ends while idle (the device closed it, its connection died,
// revocation, shutdown) leaves the pool at once.
import type { AttachedTunnel } from "./pending_calls.ts";

interface Parked {
  attached: AttachedTunnel;
  onAbort: () => void;
}

export class IdleCallTunnels {
  readonly #maxPerDevice: number;
  readonly #idle = new Map<string, Parked[]>();

  constructor(maxPerDevice: number) {
    this.#maxPerDevice = maxPerDevice;
  }

  /** Idle tunnels of all devices. */
  get size(): number {
    let size = 0;
    for (const parked of this.#idle.values()) size += parked.length;
    return size;
  }

  /** Keeps the tunnel for a later call, or ends it when the device has enough. */
  park(deviceId: string, attached: AttachedTunnel): void {
    const { signal } = attached.tunnel;
    const parked = this.#idle.get(deviceId) ?? [];
    if (signal.aborted || parked.length >= this.#maxPerDevice) {
      attached.end();
      return;
    }
    const entry: Parked = {
      attached,
      onAbort: () => {
        this.#remove(deviceId, entry);
        attached.end();
      },
    };
    signal.addEventListener("abort", entry.onAbort, { once: true });
    parked.push(entry);
    this.#idle.set(deviceId, parked);
  }

  /** The most recently parked tunnel of the device, taken out of the pool. */
  take(deviceId: string): AttachedTunnel | undefined {
    const entry = this.#idle.get(deviceId)?.at(-1);
    if (entry === undefined) return undefined;
    this.#remove(deviceId, entry);
    entry.attached.tunnel.signal.removeEventListener("abort", entry.onAbort);
    return entry.attached;
  }

  #remove(deviceId: string, entry: Parked): void {
    const parked = this.#idle.get(deviceId);
    if (parked === undefined) return;
    const index = parked.indexOf(entry);
    if (index >= 0) parked.splice(index, 1);
    if (parked.length === 0) this.#idle.delete(deviceId);
  }
}
