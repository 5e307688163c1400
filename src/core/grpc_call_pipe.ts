// Copies one transparent call between the controller's link and the device's
// tunnel: requests (then the half-close) to the device, response headers,
// messages and the final status back. Each copy awaits its destination
// before it pulls the next message, so a slow reader slows its own call only
// and the relay holds what the links buffer (their high-water marks), no
// more. Either side going
// away ends the call at once: the controller's cancel or deadline and the
// tunnel's end reject with their reason.
import { isErrorCode, RelayError } from "../errors/relay_error.ts";
import type { CallTunnel, GrpcCallLink, GrpcStatus } from "./grpc_call_link.ts";

/** Told about every message's size (for the bytes rate limits). */
export interface PipeHooks {
  onRequestBytes(bytes: number): void;
  onResponseBytes(bytes: number): void;
}

/** How a call ended on its tunnel. */
export interface PipedCall {
  /** The device server's status. */
  status: GrpcStatus;
  /**
   * The requests (and the half-close) were all sent before the status came:
   * nothing of this call can follow on the tunnel, so it may carry another.
   */
  requestsDone: boolean;
}

/** Resolves with the device server's status; rejects with the RelayError that ended the call. */
export async function pipeGrpcCall(
  link: GrpcCallLink,
  tunnel: CallTunnel,
  hooks: PipeHooks,
): Promise<PipedCall> {
  const ended = Promise.withResolvers<never>();
  const onCallerGone = () =>
    ended.reject(RelayError.from(link.signal.reason, "CANCELLED"));
  const onTunnelGone = () =>
    ended.reject(
      new RelayError(
        "UNAVAILABLE",
        `device ${tunnel.deviceId} went away during the call`,
        { source: "upstream", cause: tunnel.signal.reason },
      ),
    );
  // Nobody awaits `ended` once the call is over.
  ended.promise.catch(() => undefined);
  if (link.signal.aborted) onCallerGone();
  if (tunnel.signal.aborted) onTunnelGone();
  link.signal.addEventListener("abort", onCallerGone, { once: true });
  tunnel.signal.addEventListener("abort", onTunnelGone, { once: true });
  let requestsDone = false;
  forwardRequests(link, tunnel, hooks).then(
    () => requestsDone = true,
    (error) => ended.reject(RelayError.from(error, "UNAVAILABLE")),
  );
  try {
    const status = await Promise.race([
      readResponses(link, tunnel, hooks),
      ended.promise,
    ]);
    return { status, requestsDone };
  } finally {
    link.signal.removeEventListener("abort", onCallerGone);
    tunnel.signal.removeEventListener("abort", onTunnelGone);
  }
}

async function forwardRequests(
  link: GrpcCallLink,
  tunnel: CallTunnel,
  hooks: PipeHooks,
): Promise<void> {
  for await (const message of link.messages) {
    hooks.onRequestBytes(message.byteLength);
    await tunnel.send({ grpc: { message } });
  }
  await tunnel.send({ grpc: { half_close: {} } });
}

async function readResponses(
  link: GrpcCallLink,
  tunnel: CallTunnel,
  hooks: PipeHooks,
): Promise<GrpcStatus> {
  for (;;) {
    const next = await tunnel.frames.next();
    if (next.done) {
      throw new RelayError(
        "UNAVAILABLE",
        `device ${tunnel.deviceId} ended the call without a status`,
        { source: "upstream" },
      );
    }
    const frame = next.value;
    if (frame.frame === "error" && frame.error) {
      const code = String(frame.error.code);
      throw new RelayError(
        isErrorCode(code) ? code : "INTERNAL_ERROR",
        frame.error.message,
        { source: "upstream" },
      );
    }
    const grpc = frame.grpc;
    if (frame.frame === "grpc" && grpc) {
      if (grpc.frame === "headers") {
        link.sendHeaders(grpc.headers?.entries ?? []);
        continue;
      }
      if (grpc.frame === "message" && grpc.message) {
        hooks.onResponseBytes(grpc.message.byteLength);
        await link.send(grpc.message);
        continue;
      }
      if (grpc.frame === "status" && grpc.status) {
        const { code, message, trailers } = grpc.status;
        return { code, message, trailers };
      }
    }
    throw new RelayError(
      "INTERNAL_ERROR",
      `device ${tunnel.deviceId} sent a frame that is not part of a gRPC call`,
      { source: "upstream" },
    );
  }
}
