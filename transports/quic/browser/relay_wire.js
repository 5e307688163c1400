// relay.v1 on a QUIC or WebTransport stream: length-prefixed frames (a
// 4-byte big-endian length, then a protobuf message) and the one table of
// the messages they carry. Plain JavaScript with no imports, so the browser
// client loads this very file (served at /demo/relay_wire.js) and the Deno
// transport imports it (relay_codec.ts gives the table its types).

/** Bytes of a frame's length header. */
export const FRAME_HEADER_BYTES = 4;

/**
 * protobufjs toObject options: the shapes @grpc/proto-loader produces for
 * the gRPC transport (with keepCase at parse time): int64 as number, enums
 * as strings, defaults filled in, oneofs named.
 */
export const CONVERSION = {
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: true,
};

/**
 * Writes the length header of a frame whose payload was encoded behind
 * FRAME_HEADER_BYTES reserved bytes (saves copying the payload).
 * @param {Uint8Array} frame
 * @returns {Uint8Array}
 */
export function sealFrame(frame) {
  new DataView(frame.buffer, frame.byteOffset, FRAME_HEADER_BYTES)
    .setUint32(0, frame.byteLength - FRAME_HEADER_BYTES);
  return frame;
}

/**
 * The codecs of every message a relay.v1 stream carries, by its role.
 * @param {any} protobuf the protobufjs namespace
 * @param {any} root relay.proto parsed with keepCase
 */
export function relayCodecs(protobuf, root) {
  const codec = (name) => messageCodec(protobuf, root, name);
  return {
    /** First frame of every stream: its kind and the controller's bearer. */
    open: codec("StreamOpen"),
    deviceMessage: codec("DeviceMessage"),
    relayMessage: codec("RelayMessage"),
    controllerMessage: codec("ControllerMessage"),
    controllerFrame: codec("ControllerStreamFrame"),
    listRequest: codec("ListOnlineDevicesRequest"),
    revokeRequest: codec("RevokeTokenRequest"),
    tunnelFrame: codec("TunnelFrame"),
  };
}

/**
 * One relay.v1 message's codec.
 * @param {any} protobuf the protobufjs namespace
 * @param {any} root relay.proto parsed with keepCase
 * @param {string} name the message name within package relay.v1
 */
export function messageCodec(protobuf, root, name) {
  const type = root.lookupType(`relay.v1.${name}`);
  return {
    /** @returns {Uint8Array} */
    encode: (message) => type.encode(type.fromObject(message)).finish(),
    /**
     * The message as one frame, encoded behind the header's 4 bytes.
     * @returns {Uint8Array}
     */
    frame: (message) =>
      sealFrame(
        type.encode(
          type.fromObject(message),
          protobuf.Writer.create().fixed32(0),
        )
          .finish(),
      ),
    /** @param {Uint8Array} bytes */
    decode: (bytes) => type.toObject(type.decode(bytes), CONVERSION),
  };
}
