// The relay's handlers of the streams a controller opens: a session of
// requests to one device (CONNECT_TO_DEVICE) and the one-request calls
// (LIST_ONLINE_DEVICES, REVOKE_TOKEN). Each answers in ControllerStreamFrame
// frames; an error frame is the stream's status.
import { type ControllerLink, inBandError } from "../../src/core/links.ts";
import { RelayError } from "../../src/errors/relay_error.ts";
import type { ControllerStreamFrame } from "../../src/gen/relay/v1/ControllerStreamFrame.ts";
import type { OpenedStream } from "./opened_stream.ts";
import { quicStreamLink } from "./quic_stream_link.ts";
import { type MessageCodec, relayCodecs } from "./relay_codec.ts";

/** CONNECT_TO_DEVICE: pipelined ControllerMessage requests, a DeviceResponse each. */
export async function serveControllerSession(
  { core, open, link: base }: OpenedStream,
): Promise<void> {
  const link = quicStreamLink({
    ...base,
    decode: relayCodecs.controllerMessage,
    encode: relayCodecs.controllerFrame,
    inBandError,
  });
  const controllerLink: ControllerLink = {
    transport: link.transport,
    remoteAddress: base.remoteAddress,
    bearerToken: bearerOf(open),
    traceparent: "", // QUIC requests carry theirs in ControllerMessage
    messages: link.messages,
    signal: link.signal,
    send: (response) => link.send({ response }),
    close: link.close,
  };
  return await core.acceptController(controllerLink);
}

export function serveListOnlineDevices(stream: OpenedStream): Promise<void> {
  return serveUnary(
    stream,
    relayCodecs.listRequest,
    async (request, { core, open, link }) => ({
      devices: {
        devices: await core.listDevices(
          peerOf(link),
          bearerOf(open),
          request,
        ),
      },
    }),
  );
}

export function serveRevokeToken(stream: OpenedStream): Promise<void> {
  return serveUnary(
    stream,
    relayCodecs.revokeRequest,
    async (request, { core, open, link }) => ({
      revoked: await core.revokeToken(peerOf(link), bearerOf(open), request),
    }),
  );
}

/** A kind this relay does not know: ended with INVALID_REQUEST. */
export function refuseUnknownStream({ link: base }: OpenedStream): void {
  const link = quicStreamLink({
    ...base,
    decode: relayCodecs.open,
    encode: relayCodecs.controllerFrame,
    inBandError,
  });
  link.close(new RelayError("INVALID_REQUEST", "unknown stream kind"));
}

/** One request in, one frame out (the answer or its error), then the stream ends. */
async function serveUnary<Request>(
  stream: OpenedStream,
  decode: MessageCodec<unknown, Request>,
  answer: (
    request: Request,
    stream: OpenedStream,
  ) => Promise<ControllerStreamFrame>,
): Promise<void> {
  const link = quicStreamLink({
    ...stream.link,
    decode,
    encode: relayCodecs.controllerFrame,
    inBandError,
  });
  let reply: ControllerStreamFrame;
  try {
    const first = await link.messages[Symbol.asyncIterator]().next();
    if (first.done) {
      throw new RelayError(
        "INVALID_REQUEST",
        "stream ended before its request",
      );
    }
    reply = await answer(first.value, stream);
  } catch (error) {
    return link.close(RelayError.from(error));
  }
  await link.send(reply).catch(() => undefined);
  link.close();
}

function bearerOf(open: OpenedStream["open"]): string {
  return open.authorization.replace(/^Bearer\s+/i, "");
}

function peerOf(link: OpenedStream["link"]) {
  return { remoteAddress: link.remoteAddress, transport: "quic" };
}
