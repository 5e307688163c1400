// The device side of transparent gRPC calls: for each GrpcCallStart the
// relay sends, the agent opens a GRPC_CALL tunnel (QUIC while the agent is on
// QUIC, else HTTP/2), starts the same call on the device's own gRPC server
// and copies it both ways: requests and the half-close in, response headers,
// messages and the status out. Each copy waits for its destination before it
// reads more. The relay ending the tunnel early (the controller cancelled, its
// deadline passed) cancels the local call.
import { RelayError } from "../errors/relay_error.ts";
import type { GrpcCallStart__Output } from "../gen/relay/v1/GrpcCallStart.ts";
import type { DeviceConnector, TunnelStream } from "./connector.ts";
import type { GrpcStatus, GrpcTarget, LocalGrpcCall } from "./grpc_target.ts";

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

export class GrpcCallForwarder {
  readonly #options: GrpcCallForwarderOptions;
  readonly #open = new Set<{ cancel(): void; done: Promise<void> }>();
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
    return this.#open.size;
  }

  /** Serves one call the relay announced; never throws. */
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
    const max = this.#options.maxConcurrentCalls ??
      DEFAULT_MAX_CONCURRENT_CALLS;
    if (this.#open.size >= max) {
      const status = {
        code: RESOURCE_EXHAUSTED,
        message: `device ${deviceId} is serving ${max} calls already`,
        trailers: [],
      };
      opened.then(() => sendStatus(tunnel, status)).catch(() => tunnel.abort());
      return;
    }
    const call = this.#options.target.call({
      method: start.method,
      metadata: start.metadata,
      deadline: start.timeout_ms > 0
        ? Date.now() + start.timeout_ms
        : undefined,
    });
    const entry = {
      cancel: () => {
        call.cancel();
        tunnel.abort();
      },
      done: Promise.resolve(),
    };
    entry.done = serveCall(tunnel, call, opened)
      .finally(() => this.#open.delete(entry));
    this.#open.add(entry);
  }

  /** Cancels every call in progress and refuses new ones. */
  async close(): Promise<void> {
    this.#closed = true;
    const open = [...this.#open];
    for (const entry of open) entry.cancel();
    await Promise.all(open.map((entry) => entry.done));
    this.#options.target.close();
  }
}

async function serveCall(
  tunnel: TunnelStream,
  call: LocalGrpcCall,
  opened: Promise<void>,
): Promise<void> {
  try {
    await opened;
  } catch {
    // No tunnel, nobody to answer: the relay's call fails on its own.
    call.cancel();
    return;
  }
  const requests = forwardRequests(tunnel, call);
  try {
    const headers = await call.headers;
    if (headers !== null) {
      await tunnel.send({ grpc: { headers: { entries: headers } } });
    }
    for await (const message of call.messages) {
      await tunnel.send({ grpc: { message } });
    }
    const status = await call.status;
    await sendStatus(tunnel, status);
  } catch {
    // The tunnel failed or the relay ended it: the call is over both ways.
    call.cancel();
    tunnel.abort();
  }
  await requests;
}

/** Copies the relay's frames to the local call; cancels it if the relay ends the tunnel first. */
async function forwardRequests(
  tunnel: TunnelStream,
  call: LocalGrpcCall,
): Promise<void> {
  try {
    for await (const frame of tunnel.messages) {
      const grpc = frame.grpc;
      if (frame.frame === "grpc" && grpc?.frame === "message" && grpc.message) {
        await call.send(grpc.message);
      } else if (frame.frame === "grpc" && grpc?.frame === "half_close") {
        call.halfClose();
      } else {
        break; // an `error` frame: the caller is gone
      }
    }
  } catch {
    // The tunnel broke.
  }
  // Done reading: after the status nothing happens, else the call is cancelled.
  call.cancel();
}

function sendStatus(tunnel: TunnelStream, status: GrpcStatus): Promise<void> {
  return tunnel.send({ grpc: { status } }).then(() => tunnel.end());
}
