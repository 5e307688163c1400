// A device that knows several relays of a cluster (`relay device --relay
// a:50051,b:50051`): it stays with the relay that works and, when a relay
// cannot be reached (its stream fails or ends before the relay said anything:
// killed, stopped, refusing, cut off), tries the next one on the agent's next
// attempt. A draining relay's `move` names where to go: that relay next (one
// the device did not know is added, through `connectorFor`). Each relay's
// connector keeps its own transports (QUIC first, HTTP/2 fallback).
import type {
  ClientStream,
  DeviceConnector,
  DeviceMessage,
  RelayMessage,
  RelayMoveHint,
} from "./connector.ts";

/** One relay of the list: its gRPC address (to match move hints) and how to reach it. */
export interface KnownRelay {
  address: string;
  connector: () => DeviceConnector;
}

/** Relays learnt from move hints, at most, on top of the configured ones. */
const MAX_LEARNT_RELAYS = 8;

export function relayListConnector(
  configured: readonly KnownRelay[],
  connectorFor?: (hint: RelayMoveHint) => DeviceConnector,
): DeviceConnector {
  if (configured.length === 0) throw new Error("no relay to connect to");
  const relays = configured.map((relay) => ({
    ...relay,
    open: undefined as DeviceConnector | undefined,
  }));
  let current = 0;
  /** The relay a move left, closed once the device is heard of elsewhere. */
  let left: number | undefined;
  const active = () => {
    const relay = relays[current]!;
    return relay.open ??= relay.connector();
  };
  const watched = (index: number, stream: DeviceStream) =>
    failingEarly(stream, {
      onFailedEarly: () => {
        if (current === index) current = (index + 1) % relays.length;
      },
      onHeard: () => {
        if (left === undefined || left === index) return;
        // Its HTTP/2 channel would stay open until that relay stops, and
        // the relay's GOAWAY then can abort this process (denoland/deno#36788).
        relays[left]!.open?.close();
        relays[left]!.open = undefined;
        left = undefined;
      },
    });
  return {
    get transport() {
      return active().transport;
    },
    connect() {
      return watched(current, active().connect());
    },
    preferredAvailable(transport, signal) {
      return active().preferredAvailable?.(transport, signal) ??
        new Promise(() => {});
    },
    connectPreferred() {
      const connector = active();
      return watched(
        current,
        (connector.connectPreferred ?? connector.connect).call(connector),
      );
    },
    openTunnel(transport) {
      return active().openTunnel!(transport);
    },
    moveAway(hint) {
      left = current;
      const known = relays.findIndex((relay) =>
        relay.address === hint.relayAddress
      );
      if (known !== -1) {
        current = known;
      } else if (
        hint.relayAddress !== "" && connectorFor !== undefined &&
        relays.length < configured.length + MAX_LEARNT_RELAYS
      ) {
        relays.push({
          address: hint.relayAddress,
          connector: () => connectorFor(hint),
          open: undefined,
        });
        current = relays.length - 1;
      } else {
        current = (current + 1) % relays.length;
      }
    },
    close() {
      for (const relay of relays) relay.open?.close();
    },
  };
}

type DeviceStream = ClientStream<DeviceMessage, RelayMessage>;

/**
 * The same stream; `onFailedEarly` runs once if it fails or ends before its
 * first message, `onHeard` at its first message.
 */
function failingEarly(
  stream: DeviceStream,
  { onFailedEarly, onHeard }: {
    onFailedEarly: () => void;
    onHeard: () => void;
  },
): DeviceStream {
  let heard = false;
  let failed = false;
  const early = () => {
    if (heard || failed) return;
    failed = true;
    onFailedEarly();
  };
  // A relay that never answers shows in whichever fails first: the
  // connection, the register message, or the reply it never sends.
  stream.ready.catch(early);
  return {
    get transport() {
      return stream.transport;
    },
    get ready() {
      return stream.ready;
    },
    // Plain delegation (no generator, no extra promise once heard): every
    // message and answer of the device goes through here.
    messages: {
      [Symbol.asyncIterator]() {
        const inner = stream.messages[Symbol.asyncIterator]();
        return {
          async next() {
            try {
              const result = await inner.next();
              if (result.done) early();
              else if (!heard) {
                heard = true;
                onHeard();
              }
              return result;
            } catch (error) {
              early();
              throw error;
            }
          },
          return: (value?: unknown) =>
            inner.return?.(value) ??
              Promise.resolve({ done: true as const, value: undefined }),
        };
      },
    },
    send: (message) =>
      heard ? stream.send(message) : stream.send(message).catch((error) => {
        early();
        throw error;
      }),
    end: () => stream.end(),
    abort: () => stream.abort(),
  };
}
