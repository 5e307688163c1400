// The SDKs' connectors over the concrete transports: the SDK (src/sdk/) only
// knows the connector ports, and this composition root picks the adapter
// (transports/grpc, transports/quic) a ClientTransportOptions asks for.
import type { ClientTransportOptions } from "../cli/wiring.ts";
import { formatHostPort, hostOf } from "../config/host_port.ts";
import type { ControllerConnector, DeviceConnector } from "../sdk/connector.ts";
import { happyEyeballsConnector } from "../sdk/happy_eyeballs_connector.ts";
import {
  grpcControllerConnector,
  grpcDeviceConnector,
} from "../../transports/grpc/grpc_connectors.ts";
import {
  quicControllerConnector,
  quicDeviceConnector,
} from "../../transports/quic/quic_connectors.ts";

const DEFAULT_QUIC_PORT = 50052;

/** The device side: QUIC first with HTTP/2 fallback unless `transport` says otherwise. */
export function deviceConnector(
  options: ClientTransportOptions,
): DeviceConnector {
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

/** The controller side: HTTP/2 gRPC unless `transport` is "quic". */
export function controllerConnector(
  options: ClientTransportOptions,
): ControllerConnector {
  return options.transport === "quic"
    ? quicControllerConnector(quicOptions(options))
    : grpcControllerConnector(options);
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
