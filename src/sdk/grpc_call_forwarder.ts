// The device side of transparent gRPC calls: for each GrpcCallStart the
// relay sends, the agent opens a GRPC_CALL tunnel (QUIC while the agent is on
// QUIC, else HTTP/2), starts the same call on the device's own gRPC server
// and copies it both ways: requests and the half-close in, response headers,
// messages and the status out. Each copy waits for its destination before it
// reads more. The relay ending the tunnel early (the controller cancelled, its
// deadline passed) cancels the local call. After a call the tunnel stays
// open: the relay may start the next call on it (a `start` frame) or end it.
import { RelayError } from "../errors/relay_error.ts";
import type { GrpcCallStart__Output } from "../gen/relay/v1/GrpcCallStart.ts";
import type {
  DeviceConnector,
  TunnelFrame__Output,
  TunnelStream,
} from "./connector.ts";
import type { GrpcStatus, GrpcTarget, LocalGrpcCall } from "./grpc_target.ts";
import { grpcStatusName } from "../errors/grpc_status.ts";
import {
  endSpan,
  SpanKind,
  startSpan,
  withSpan,
} from "../observability/tracing.ts";
import { traceparentIn } from "../wire/trace_metadata.ts";

export interface GrpcCallForwarderOptions {
  target: GrpcTarget;
  /** The agent's connector; it opens the tunnels. */
  connector: Pick<DeviceConnector, "openTunnel">;
  deviceId: string;
  /** The device credential; every tunnel presents it. */
  token: string;
  /** The agent's current transport ("quic", "h2"), when connected. */
  transport: () => string | undefined;
  /** Calls served at once (default 256); more are refused with RESOURCE_EXHAUSTED. */
  maxConcurrentCalls?: number;
}

const DEFAULT_MAX_CONCURRENT_CALLS = 256;

/** The gRPC status code of a refusal this side produces itself. */
const RESOURCE_EXHAUSTED = 8;

type Frames = AsyncIterator<TunnelFrame__Output>;

interface OpenTunnel {
  call: LocalGrpcCall | undefined;
  tunnel: TunnelStream;
  done: Promise<void>;
}

export class GrpcCallForwarder {
  readonly #options: GrpcCallForwarderOptions;
  readonly #tunnels = new Set<OpenTunnel>();
  #active = 0;
  #closed = false;

  constructor(options: GrpcCallForwarderOptions) {
    if (options.connector.openTunnel === undefined) {
      throw new RelayError(
        "INVALID_REQUEST",
        "this connector cannot open tunnels, which transparent gRPC calls need",
      );
    }
    this.#options = options;
  }

  /** Calls in progress. */
  get size(): number {
    return this.#active;
  }

  get #maxCalls(): number {
    return this.#options.maxConcurrentCalls ?? DEFAULT_MAX_CONCURRENT_CALLS;
  }

  /** Serves a call the relay announced on the control stream; never throws. */
  forward(start: GrpcCallStart__Output): void {
    if (this.#closed) return;
    const { connector, deviceId, token, transport } = this.#options;
    const tunnel = connector.openTunnel!(transport());
    const opened = tunnel.send({
      open: {
        device_id: deviceId,
        token,
        kind: "GRPC_CALL",
        call_id: start.call_id,
      },
    });
    const open: OpenTunnel = {
      call: undefined,
      tunnel,
      done: Promise.resolve(),
    };
    open.done = this.#serveTunnel(open, opened, start)
      .finally(() => this.#tunnels.delete(open));
    this.#tunnels.add(open);
  }

  /** Cancels every call in progress, ends every tunnel and refuses new calls. */
  async close(): Promise<void> {
    this.#closed = true;
    const open = [...this.#tunnels];
    for (const { call, tunnel } of open) {
      call?.cancel();
      tunnel.abort();
    }
    await Promise.all(open.map((entry) => entry.done));
    this.#options.target.close();
  }

  /** Serves the tunnel's first call, then each call the relay starts on it. */
  async #serveTunnel(
    open: OpenTunnel,
    opened: Promise<void>,
    first: GrpcCallStart__Output,
  ): Promise<void> {
    try {
      await opened;
    } catch {
      return; // No tunnel, nobody to answer: the relay's call fails on its own.
    }
    const frames = open.tunnel.messages[Symbol.asyncIterator]();
    let start: GrpcCallStart__Output | undefined = first;
    while (start !== undefined && !this.#closed) {
      const { method, metadata, timeout_ms } = start;
      // The relay's span is the parent. The local call starts inside this
      // span: Deno's HTTP/2 client span for it, and the server's, follow.
      const span = startSpan("relay.device.grpc_call", SpanKind.SERVER, {
        "rpc.method": method,
        "relay.device_id": this.#options.deviceId,
      }, traceparentIn(metadata));
      const call = this.#active >= this.#maxCalls
        ? refusedCall(
          `device ${this.#options.deviceId} is serving ${this.#maxCalls} calls already`,
        )
        : withSpan(span, () =>
          this.#options.target.call({
            method,
            metadata,
            deadline: timeout_ms > 0 ? Date.now() + timeout_ms : undefined,
          }));
      if (span !== undefined) {
        call.status.then((status) =>
          endSpan(span, grpcStatusName(status.code))
        );
      }
      open.call = call;
      this.#active++;
      try {
        start = await serveCall(open.tunnel, frames, call);
      } finally {
        this.#active--;
        open.call = undefined;
      }
    }
    open.tunnel.end();
  }
}

/** Serves one call; resolves with the next call the relay starts on the tunnel, if any. */
async function serveCall(
  tunnel: TunnelStream,
  frames: Frames,
  call: LocalGrpcCall,
): Promise<GrpcCallStart__Output | undefined> {
  const next = forwardRequests(frames, call);
  try {
    const headers = await call.headers;
    if (headers !== null) {
      await tunnel.send({ grpc: { headers: { entries: headers } } });
    }
    for await (const message of call.messages) {
      await tunnel.send({ grpc: { message } });
    }
    await sendStatus(tunnel, await call.status);
  } catch {
    // The tunnel failed or the relay ended it: the call is over both ways.
    call.cancel();
    tunnel.abort();
    await next;
    return undefined;
  }
  return await next;
}

/**
 * Copies the relay's frames to the local call until its half-close, then
 * waits for the next call's `start` (which comes only after this call's
 * status). The tunnel ending or an `error` frame first cancels the call.
 */
async function forwardRequests(
  frames: Frames,
  call: LocalGrpcCall,
): Promise<GrpcCallStart__Output | undefined> {
  let halfClosed = false;
  try {
    for (;;) {
      const next = await frames.next();
      if (next.done) break;
      const grpc = next.value.frame === "grpc" ? next.value.grpc : undefined;
      if (!halfClosed && grpc?.frame === "message" && grpc.message) {
        await call.send(grpc.message);
      } else if (!halfClosed && grpc?.frame === "half_close") {
        call.halfClose();
        halfClosed = true;
      } else if (halfClosed && grpc?.frame === "start" && grpc.start) {
        return grpc.start;
      } else {
        break; // an `error` frame (the caller is gone), or out of order
      }
    }
  } catch {
    // The tunnel broke.
  }
  // After the status this changes nothing; before it, the call is cancelled.
  call.cancel();
  return undefined;
}

function sendStatus(tunnel: TunnelStream, status: GrpcStatus): Promise<void> {
  return tunnel.send({ grpc: { status } });
}

/** A call answered at once with RESOURCE_EXHAUSTED, never reaching the target. */
function refusedCall(message: string): LocalGrpcCall {
  return {
    headers: Promise.resolve(null),
    messages: (async function* () {})(),
    status: Promise.resolve({
      code: RESOURCE_EXHAUSTED,
      message,
      trailers: [],
    }),
    send: () => Promise.resolve(),
    halfClose: () => {},
    cancel: () => {},
  };
}
