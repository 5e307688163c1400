// The SDKs' connectors over the concrete transports: the SDK (src/sdk/) only
// knows the connector ports, and this composition root picks the adapter
// (transports/grpc, transports/quic) a ClientTransportOptions asks for.
import type { ClientTransportOptions } from "../cli/wiring.ts";
import { formatHostPort, hostOf } from "../config/host_port.ts";
import type { ControllerConnector, DeviceConnector } from "../sdk/connector.ts";
import { happyEyeballsConnector } from "../sdk/happy_eyeballs_connector.ts";
import { relayListConnector } from "../sdk/relay_list_connector.ts";
import { RelayError } from "../errors/relay_error.ts";
import {
  grpcControllerConnector,
  grpcDeviceConnector,
} from "../../transports/grpc/grpc_connectors.ts";
import {
  quicControllerConnector,
  quicDeviceConnector,
} from "../../transports/quic/quic_connectors.ts";

const DEFAULT_QUIC_PORT = 50052;
const LIST_QUIC_KEEP_ALIVE_MS = 2000;
const LIST_QUIC_IDLE_MS = 6000;

/**
 * The device side: QUIC first with HTTP/2 fallback unless `transport` says
 * otherwise. `address` may list several relays of a cluster, comma-separated
 * (and `quicAddress` theirs in the same order): the device stays with one
 * that works and moves to the next when it cannot reach it, or where a
 * draining relay tells it to go.
 */
export function deviceConnector(
  options: ClientTransportOptions,
): DeviceConnector {
  const addresses = options.address.split(",");
  const quicAddresses = options.quicAddress?.split(",");
  if (
    quicAddresses !== undefined && quicAddresses.length !== addresses.length
  ) {
    throw new RelayError(
      "INVALID_REQUEST",
      `${addresses.length} relay addresses but ${quicAddresses.length} QUIC addresses; give one per relay, in the same order`,
    );
  }
  const { quicAddress: _, serverName: __, ...rest } = options;
  // A device with somewhere else to go learns sooner that a relay died: a
  // killed relay's UDP port answers nothing, so QUIC notices only when the
  // connection idles out (30 s alone; here 6 s, kept alive every 2 s).
  const common = addresses.length > 1
    ? {
      keepAliveMs: LIST_QUIC_KEEP_ALIVE_MS,
      idleTimeoutMs: LIST_QUIC_IDLE_MS,
      ...rest,
    }
    : rest;
  const forRelay = (address: string, quicAddress: string | undefined) =>
    oneRelayConnector({
      ...common,
      // The configured name is for the configured relays only.
      ...(options.serverName && addresses.includes(address)
        ? { serverName: options.serverName }
        : {}),
      address,
      ...(quicAddress ? { quicAddress } : {}),
    });
  // Even with one relay: a draining relay sends its devices to another.
  return relayListConnector(
    addresses.map((address, index) => ({
      address,
      connector: () => forRelay(address, quicAddresses?.[index]),
    })),
    (hint) =>
      hint.quicAddress === ""
        ? oneRelayConnector({
          ...common,
          address: hint.relayAddress,
          transport: "h2",
        })
        : forRelay(hint.relayAddress, hint.quicAddress),
  );
}

function oneRelayConnector(options: ClientTransportOptions): DeviceConnector {
  const transport = options.transport ?? "auto";
  if (transport === "h2") return grpcDeviceConnector(options);
  const quic = quicDeviceConnector(quicOptions(options));
  if (transport === "quic") return quic;
  return happyEyeballsConnector(quic, grpcDeviceConnector(options), {
    ...(options.headStartMs !== undefined
      ? { headStartMs: options.headStartMs }
      : {}),
    ...(options.probeIntervalMs !== undefined
      ? { probeIntervalMs: options.probeIntervalMs }
      : {}),
  });
}

/** The controller side: HTTP/2 gRPC unless `transport` is "quic"; of a relay list, the first. */
export function controllerConnector(
  given: ClientTransportOptions,
): ControllerConnector {
  const options = firstRelay(given);
  return options.transport === "quic"
    ? quicControllerConnector(quicOptions(options))
    : grpcControllerConnector(options);
}

function firstRelay(options: ClientTransportOptions): ClientTransportOptions {
  const { quicAddress, ...rest } = options;
  const quic = quicAddress?.split(",")[0];
  return {
    ...rest,
    address: options.address.split(",")[0]!,
    ...(quic ? { quicAddress: quic } : {}),
  };
}

function quicOptions(options: ClientTransportOptions) {
  return {
    ...options,
    address: options.quicAddress ??
      formatHostPort(hostOf(options.address), DEFAULT_QUIC_PORT),
    ...(options.quicConnectTimeoutMs !== undefined
      ? { connectTimeoutMs: options.quicConnectTimeoutMs }
      : {}),
    ...(options.quicEndpoint ? { endpoint: options.quicEndpoint } : {}),
  };
}
