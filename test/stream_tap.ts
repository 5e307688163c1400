// Connectors that record every message a client sends and receives (what
// the relay forwarded to it, decoded from the wire), and may rewrite what it
// sends: for tests that look at the bytes passing through the relay.
import type {
  ClientStream,
  ControllerConnector,
  ControllerMessage,
  DeviceConnector,
  DeviceMessage,
  DeviceResponse,
  RelayMessage,
} from "../src/sdk/connector.ts";

export interface Tap<Out, In> {
  sent: Out[];
  received: In[];
  /** Rewrites an outgoing message before it is sent. */
  rewrite?: (message: Out) => Out;
}

export function newTap<Out, In>(): Tap<Out, In> {
  return { sent: [], received: [] };
}

function tapStream<Out, In>(
  stream: ClientStream<Out, In>,
  tap: Tap<Out, In>,
): ClientStream<Out, In> {
  return {
    get transport() {
      return stream.transport;
    },
    ready: stream.ready,
    messages: {
      async *[Symbol.asyncIterator]() {
        for await (const message of stream.messages) {
          tap.received.push(message);
          yield message;
        }
      },
    },
    send(message) {
      const out = tap.rewrite ? tap.rewrite(message) : message;
      tap.sent.push(out);
      return stream.send(out);
    },
    end: () => stream.end(),
    abort: () => stream.abort(),
  };
}

export function tapDeviceConnector(
  inner: DeviceConnector,
  tap: Tap<DeviceMessage, RelayMessage>,
): DeviceConnector {
  return {
    get transport() {
      return inner.transport;
    },
    connect: () => tapStream(inner.connect(), tap),
    ...(inner.preferredAvailable
      ? {
        preferredAvailable: (current: string, signal: AbortSignal) =>
          inner.preferredAvailable!(current, signal),
      }
      : {}),
    ...(inner.connectPreferred
      ? { connectPreferred: () => tapStream(inner.connectPreferred!(), tap) }
      : {}),
    close: () => inner.close(),
  };
}

export function tapControllerConnector(
  inner: ControllerConnector,
  tap: Tap<ControllerMessage, DeviceResponse>,
): ControllerConnector {
  return {
    get transport() {
      return inner.transport;
    },
    listOnlineDevices: (request, token) =>
      inner.listOnlineDevices(request, token),
    revokeToken: (request, token) => inner.revokeToken(request, token),
    openStream: (token) => tapStream(inner.openStream(token), tap),
    close: () => inner.close(),
  };
}
