// Copies one transparent call between the controller's link and the same
// call made on the relay of the cluster that holds the device: requests
// (then the half-close) there, the holder's response headers, messages,
// status and trailers back unchanged. Each copy awaits its destination
// before it pulls the next message (flow control end to end across the
// hop). The caller's cancel or deadline cancels the hop's call, which the
// holder passes on to the device's handler.
import { RelayError } from "../errors/relay_error.ts";
import type { GrpcCallLink, GrpcStatus } from "./grpc_call_link.ts";
import type { GrpcClientCall } from "../wire/grpc_call_types.ts";

/** Resolves with the holder's status; rejects with the RelayError that ended the caller's side. */
export async function forwardGrpcCall(
  link: GrpcCallLink,
  upstream: GrpcClientCall,
): Promise<GrpcStatus> {
  const ended = Promise.withResolvers<never>();
  // Nobody awaits `ended` once the call is over.
  ended.promise.catch(() => undefined);
  const onCallerGone = () => {
    upstream.cancel();
    ended.reject(RelayError.from(link.signal.reason, "CANCELLED"));
  };
  if (link.signal.aborted) onCallerGone();
  link.signal.addEventListener("abort", onCallerGone, { once: true });
  forwardRequests(link, upstream).catch((error) => {
    upstream.cancel();
    ended.reject(RelayError.from(error, "CANCELLED"));
  });
  try {
    return await Promise.race([copyResponses(link, upstream), ended.promise]);
  } finally {
    link.signal.removeEventListener("abort", onCallerGone);
  }
}

async function forwardRequests(
  link: GrpcCallLink,
  upstream: GrpcClientCall,
): Promise<void> {
  for await (const message of link.messages) await upstream.send(message);
  upstream.halfClose();
}

async function copyResponses(
  link: GrpcCallLink,
  upstream: GrpcClientCall,
): Promise<GrpcStatus> {
  const headers = await upstream.headers;
  if (headers !== null) link.sendHeaders(headers);
  for await (const message of upstream.messages) await link.send(message);
  return await upstream.status;
}
