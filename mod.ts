/**
 * The relay as a library: the device and controller SDKs with connectors
 * over the relay's transports (QUIC first with HTTP/2 fallback for devices,
 * HTTP/2 for controllers), and `startRelay` to embed a relay in a process.
 * The `relay` command is src/main.ts; this module never runs anything.
 *
 * @example
 * ```ts
 * import {
 *   ControllerClient,
 *   controllerConnector,
 *   DeviceAgent,
 *   deviceConnector,
 *   echoHandler,
 *   loadConfig,
 *   startRelay,
 * } from "./mod.ts";
 *
 * // A relay (TLS with a generated dev CA in relay.state_dir by default).
 * const relay = await startRelay(await loadConfig({ path: "relay.yaml" }));
 * const transport = {
 *   address: relay.grpcAddress,
 *   quicAddress: relay.quicAddress,
 *   caPem: relay.caPem,
 * };
 *
 * // A device; its credential comes from `relay token device --id dev-1`.
 * const agent = new DeviceAgent({
 *   connector: deviceConnector(transport),
 *   deviceId: "dev-1",
 *   token: Deno.env.get("DEVICE_TOKEN") ?? "",
 * }).handle("echo", echoHandler);
 * agent.start();
 *
 * // A controller (end-to-end encrypted to the device's key by default).
 * const client = new ControllerClient({
 *   connector: controllerConnector(transport),
 *   token: relay.adminToken,
 * });
 * const answer = await client.call(
 *   "dev-1",
 *   "echo",
 *   new TextEncoder().encode("hello"),
 * );
 *
 * await client.close();
 * await agent.close();
 * await relay.shutdown();
 * ```
 *
 * @module
 */

// Embedding a relay.
export {
  startRelay,
  type StartRelayOptions,
} from "./src/compose/relay_server.ts";
export type { RunningRelay } from "./src/cli/wiring.ts";
export {
  buildConfig,
  loadConfig,
  type LoadConfigOptions,
} from "./src/config/load_config.ts";
export type { RelayConfig } from "./src/config/config_schema.ts";
export {
  type LogFields,
  Logger,
  type LoggerOptions,
  type LogLevel,
} from "./src/observability/logger.ts";
export type {
  OfflineReason,
  PresenceEvent,
} from "./src/core/device_registry.ts";
export type { BrokerConnection, BrokerDialer } from "./src/mqtt/mqtt_ports.ts";

// Connectors: which transport an SDK client speaks.
export {
  controllerConnector,
  deviceConnector,
} from "./src/compose/connectors.ts";
export type {
  ClientTransportOptions,
  TransportChoice,
} from "./src/cli/wiring.ts";
export type {
  ClientStream,
  ControllerConnector,
  DeviceConnector,
  DeviceInfo,
  TunnelStream,
  UnaryGrpcResult,
} from "./src/sdk/connector.ts";

// The device SDK.
export {
  type AgentState,
  type AgentStateDetail,
  type AgentStats,
  type AnswerCacheLimits,
  DeviceAgent,
  type DeviceAgentOptions,
  type DeviceHandler,
  type DeviceRequest,
  echoHandler,
  type PublishOptions,
  type PublishPayload,
  type Qos,
} from "./src/sdk/device_agent.ts";
export {
  MqttTunnelListener,
  type MqttTunnelListenerOptions,
} from "./src/sdk/mqtt_tunnel_listener.ts";
export type { BackoffOptions } from "./src/sdk/backoff.ts";
export {
  grpcTarget,
  type GrpcTargetOptions,
} from "./transports/grpc/grpc_target_client.ts";
export type {
  GrpcCallHead,
  GrpcStatus,
  GrpcTarget,
  LocalGrpcCall,
  MetadataEntry,
} from "./src/sdk/grpc_target.ts";
export { type DeviceKeyPair, generateDeviceKey } from "./src/e2e/device_key.ts";

// The controller SDK.
export {
  type CallManyOptions,
  type CallManyResult,
  type CallOptions,
  ControllerClient,
  type ControllerClientOptions,
  type DeviceCallSession,
  type GrpcCallOptions,
  type ListDevicesOptions,
  type RevokeOptions,
} from "./src/sdk/controller_client.ts";
export type { ControllerE2eOptions } from "./src/e2e/controller_e2e.ts";
export { type KnownKeyStore, MemoryKnownKeys } from "./src/e2e/key_pinning.ts";
export { KnownDevicesFile } from "./src/e2e/known_devices_file.ts";

// Errors.
export {
  type ErrorCode,
  type ErrorSource,
  RelayError,
} from "./src/errors/relay_error.ts";
