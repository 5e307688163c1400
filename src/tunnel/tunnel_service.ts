// The relay side of tunnels: ordered raw byte streams a device opens next to
// its request stream (one per MQTT client session, later other protocols).
// A tunnel goes through the device handshake of a register (the device
// credential in its first `open` frame), then the per-device connection rate
// limit, then the handler registered for its kind (e.g. the MQTT bridge) gets
// the byte streams. Refusals close the link with their error (the transport
// writes it as an `error` frame). Each tunnel is its own transport stream, so
// one stalled tunnel never holds up another or the device's request stream.
import { RelayError } from "../errors/relay_error.ts";
import type { DeviceRecord } from "../store/relay_store.ts";
import { deviceHandshake } from "../core/device_handshake.ts";
import type { Peer } from "../core/gatekeeper.ts";
import type { TunnelLink } from "../core/links.ts";
import type {
  TunnelFrame,
  TunnelFrame__Output,
  TunnelKind,
} from "../core/messages.ts";
import type { TunnelContext, TunnelPort } from "../core/tunnel_port.ts";
import { type TunnelBytes, tunnelBytes } from "./tunnel_bytes.ts";
import { waitAtMost } from "../limits/deadline.ts";

/** One authenticated tunnel, as its handler sees it. */
export interface Tunnel {
  readonly deviceId: string;
  readonly project: string;
  readonly kind: TunnelKind;
  /** GRPC_CALL tunnels: the call the device's open frame named. */
  readonly callId: string;
  readonly peer: Peer;
  /** Bytes from the device (`data` frames), pulled on demand. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the device (bounded queue); close it to flush before returning. */
  readonly writable: WritableStream<Uint8Array>;
  /** The frames after `open`, for kinds that are not a byte stream (use either these or the bytes). */
  readonly frames: AsyncIterator<TunnelFrame__Output>;
  /** Sends one frame; resolves when the transport took it. */
  send(frame: TunnelFrame): Promise<void>;
  /** Aborted when the tunnel must end: stream gone, credential revoked, shutdown. */
  readonly signal: AbortSignal;
}

/** Serves one tunnel until it ends; throws a RelayError to end it with that error. */
export type TunnelHandler = (tunnel: Tunnel) => Promise<void>;

/** What the core gives (TunnelContext), and tuning. */
export interface TunnelServiceOptions extends TunnelContext {
  /** Largest data frame towards the device (default 64 KiB). */
  maxFrameBytes?: number;
  /** Bytes queued towards one device's tunnel before its writer waits (default 256 KiB). */
  highWaterMarkBytes?: number;
  /** Tunnels one device may have open at once (default 256); more get RATE_LIMITED. */
  maxTunnelsPerDevice?: number;
}

const DEFAULT_MAX_TUNNELS_PER_DEVICE = 256;

interface OpenTunnel {
  readonly ended: AbortController;
  /** Settles when the tunnel's link is closed. */
  readonly done: Promise<void>;
}

/** The core's tunnel port, with handlers per tunnel kind. */
export class TunnelService implements TunnelPort {
  readonly #options: TunnelServiceOptions;
  readonly #handlers = new Map<TunnelKind, TunnelHandler>();
  /** Open tunnels by device id, for revocation and shutdown. */
  readonly #open = new Map<string, Set<OpenTunnel>>();

  constructor(options: TunnelServiceOptions) {
    this.#options = options;
  }

  /** Serves tunnels of `kind` with `handler` (the composition root wires e.g. MQTT). */
  register(kind: TunnelKind, handler: TunnelHandler): void {
    this.#handlers.set(kind, handler);
  }

  /** Open tunnels (all devices). */
  get size(): number {
    let count = 0;
    for (const tunnels of this.#open.values()) count += tunnels.size;
    return count;
  }

  async accept(link: TunnelLink): Promise<void> {
    const { metrics, logger } = this.#options;
    metrics.activeStreams.inc({ kind: "tunnel" });
    try {
      await this.#serve(link);
    } catch (error) {
      const relayError = RelayError.from(error);
      logger.debug("tunnel refused or failed", {
        remote: link.remoteAddress,
        code: relayError.code,
        reason: relayError.message,
      });
      link.close(relayError);
    } finally {
      metrics.activeStreams.dec({ kind: "tunnel" });
    }
  }

  /** Ends every tunnel of a device (its credential was revoked); returns how many. */
  closeDevice(deviceId: string, error: RelayError): number {
    const tunnels = [...(this.#open.get(deviceId) ?? [])];
    for (const tunnel of tunnels) tunnel.ended.abort(error);
    return tunnels.length;
  }

  /** Ends every tunnel and waits (at most `waitMs`) until their streams are closed. */
  async closeAll(error: RelayError, waitMs = 1000): Promise<void> {
    const tunnels = [...this.#open.values()].flatMap((set) => [...set]);
    for (const tunnel of tunnels) tunnel.ended.abort(error);
    await waitAtMost(Promise.all(tunnels.map((tunnel) => tunnel.done)), waitMs);
  }

  async #serve(link: TunnelLink): Promise<void> {
    const inbound = link.messages[Symbol.asyncIterator]();
    const device = await deviceHandshake(link, inbound, this.#options, {
      stream: "tunnel",
      expected: "tunnel open frame",
      claim: (first: TunnelFrame__Output) => {
        if (first.frame !== "open" || first.open == null) {
          throw new RelayError(
            "INVALID_REQUEST",
            "the first tunnel frame must be open",
            { source: "downstream" },
          );
        }
        return { deviceId: first.open.device_id, credential: first.open.token };
      },
    });
    if (device === undefined) return link.close(); // closed before saying anything
    const { deviceId, record } = device;
    const open = device.first.open!;
    const handler = this.#handlers.get(open.kind);
    if (handler === undefined) {
      throw open.kind === "TUNNEL_KIND_UNSPECIFIED"
        ? new RelayError("INVALID_REQUEST", "tunnel kind is missing", {
          source: "downstream",
        })
        : new RelayError(
          "UNAVAILABLE",
          `${open.kind} tunnels are not served by this relay`,
        );
    }
    const max = this.#options.maxTunnelsPerDevice ??
      DEFAULT_MAX_TUNNELS_PER_DEVICE;
    if ((this.#open.get(deviceId)?.size ?? 0) >= max) {
      throw new RelayError(
        "RATE_LIMITED",
        `device ${deviceId} has ${max} tunnels open already`,
        { source: "downstream" },
      );
    }
    // A call's tunnel was admitted (and audited) as the controller's call.
    if (open.kind !== "GRPC_CALL") {
      this.#options.gate.admitDeviceConnection(link, deviceId);
      this.#options.gate.authSucceeded(link, `device:${deviceId}`);
    }
    await this.#run(link, inbound, handler, {
      record,
      kind: open.kind,
      callId: open.call_id,
    });
  }

  async #run(
    link: TunnelLink,
    inbound: AsyncIterator<TunnelFrame__Output>,
    handler: TunnelHandler,
    { record, kind, callId }: {
      record: DeviceRecord;
      kind: TunnelKind;
      callId: string;
    },
  ): Promise<void> {
    const { logger } = this.#options;
    const deviceId = record.deviceId;
    const ended = new AbortController();
    const onLinkEnd = () => ended.abort(link.signal.reason);
    if (link.signal.aborted) onLinkEnd();
    else link.signal.addEventListener("abort", onLinkEnd, { once: true });
    const done = Promise.withResolvers<void>();
    const tunnel: OpenTunnel = { ended, done: done.promise };
    this.#track(deviceId, tunnel);
    const fields = {
      device_id: deviceId,
      kind,
      transport: link.transport,
      remote: link.remoteAddress,
    };
    // One per call for GRPC_CALL: too many for the info log.
    const level = kind === "GRPC_CALL" ? "debug" : "info";
    logger[level]("tunnel opened", fields);
    // Made on first use: GRPC_CALL tunnels carry frames, not bytes.
    let bytes: TunnelBytes | undefined;
    const byteStreams = () =>
      bytes ??= tunnelBytes(link, inbound, {
        ...(this.#options.maxFrameBytes === undefined
          ? {}
          : { maxFrameBytes: this.#options.maxFrameBytes }),
        ...(this.#options.highWaterMarkBytes === undefined
          ? {}
          : { highWaterMarkBytes: this.#options.highWaterMarkBytes }),
      });
    let failure: RelayError | undefined;
    try {
      await handler({
        deviceId,
        project: record.project,
        kind,
        callId,
        peer: link,
        get readable() {
          return byteStreams().readable;
        },
        get writable() {
          return byteStreams().writable;
        },
        frames: inbound,
        send: (frame) => link.send(frame),
        signal: ended.signal,
      });
    } catch (error) {
      failure = RelayError.from(error);
    } finally {
      link.signal.removeEventListener("abort", onLinkEnd);
    }
    // Revocation, shutdown and a failed link say why, whatever the handler
    // made of it.
    const reason = ended.signal.reason;
    if (reason instanceof RelayError) failure = reason;
    logger[level]("tunnel closed", {
      ...fields,
      ...(failure ? { code: failure.code, reason: failure.message } : {}),
    });
    try {
      link.close(failure);
    } finally {
      this.#untrack(deviceId, tunnel);
      done.resolve();
    }
  }

  #track(deviceId: string, tunnel: OpenTunnel): void {
    let tunnels = this.#open.get(deviceId);
    if (tunnels === undefined) this.#open.set(deviceId, tunnels = new Set());
    tunnels.add(tunnel);
  }

  #untrack(deviceId: string, tunnel: OpenTunnel): void {
    const tunnels = this.#open.get(deviceId);
    tunnels?.delete(tunnel);
    if (tunnels?.size === 0) this.#open.delete(deviceId);
  }
}
