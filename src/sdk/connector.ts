// What the SDKs need from a transport on the client side. Each transport
// adapter (transports/*) provides these; the SDKs never import an adapter.
import type { CallManyRequest } from "../gen/relay/v1/CallManyRequest.ts";
import type { CallManyResult__Output } from "../gen/relay/v1/CallManyResult.ts";
import type { ControllerMessage } from "../gen/relay/v1/ControllerMessage.ts";
import type { DeviceInfo__Output } from "../gen/relay/v1/DeviceInfo.ts";
import type { DeviceMessage } from "../gen/relay/v1/DeviceMessage.ts";
import type { DeviceResponse__Output } from "../gen/relay/v1/DeviceResponse.ts";
import type { DrainRequest } from "../gen/relay/v1/DrainRequest.ts";
import type { DrainResponse__Output } from "../gen/relay/v1/DrainResponse.ts";
import type { ListOnlineDevicesRequest } from "../gen/relay/v1/ListOnlineDevicesRequest.ts";
import type { RelayMessage__Output } from "../gen/relay/v1/RelayMessage.ts";
import type { RevokeTokenRequest } from "../gen/relay/v1/RevokeTokenRequest.ts";
import type { RevokeTokenResponse__Output } from "../gen/relay/v1/RevokeTokenResponse.ts";
import type {
  TunnelFrame,
  TunnelFrame__Output,
} from "../gen/relay/v1/TunnelFrame.ts";
import type { GrpcStatus, MetadataEntry } from "../wire/grpc_call_types.ts";

export type {
  CallManyRequest,
  CallManyResult__Output as CallManyResult,
  ControllerMessage,
  DeviceInfo__Output as DeviceInfo,
  DeviceMessage,
  DeviceResponse__Output as DeviceResponse,
  DrainRequest,
  ListOnlineDevicesRequest,
  RelayMessage__Output as RelayMessage,
  RevokeTokenRequest,
  RevokeTokenResponse__Output as RevokeTokenResponse,
  TunnelFrame,
  TunnelFrame__Output,
};

/** A tunnel stream as the device sees it: it sends `open`, then `data` both ways. */
export type TunnelStream = ClientStream<TunnelFrame, TunnelFrame__Output>;

/** A bidirectional stream as the client sees it. Iteration throws RelayError on failure. */
export interface ClientStream<Out, In> {
  /** Transport carrying this stream ("h2", "quic"); "" until it is known. */
  readonly transport: string;
  /** Resolves once the transport connection is up; rejects when it cannot be. */
  readonly ready: Promise<void>;
  readonly messages: AsyncIterable<In>;
  send(message: Out): Promise<void>;
  /** Half-closes: no more messages from us, answers may still arrive. */
  end(): void;
  /** Drops the stream now. */
  abort(): void;
}

export interface DeviceConnector {
  /** Short transport name ("h2", "quic", or "auto" for a racing connector). */
  readonly transport: string;
  connect(): ClientStream<DeviceMessage, RelayMessage__Output>;
  /**
   * For connectors with a preferred transport: resolves when a stream on
   * `current` should move because the preferred transport works (again).
   */
  preferredAvailable?(current: string, signal: AbortSignal): Promise<void>;
  /** For connectors with a preferred transport: a stream over that one only. */
  connectPreferred?(): ClientStream<DeviceMessage, RelayMessage__Output>;
  /** Checks that the transport can connect now (handshake, then close). */
  probe?(): Promise<void>;
  /**
   * Opens a tunnel stream (an OpenTunnel call over HTTP/2, its own stream on
   * the device's QUIC connection). A connector with several transports uses
   * `transport` when it is one of them (the agent's current one), else its
   * fallback.
   */
  openTunnel?(transport?: string): TunnelStream;
  /**
   * The relay asked the device to move (it drains): the next connect goes to
   * the relay `hint` names, or to another relay the connector knows.
   */
  moveAway?(hint: RelayMoveHint): void;
  close(): void;
}

/** Where a draining relay sends its devices ("" addresses: anywhere else). */
export interface RelayMoveHint {
  relayAddress: string;
  quicAddress: string;
}

export interface ControllerConnector {
  readonly transport: string;
  listOnlineDevices(
    request: ListOnlineDevicesRequest,
    token: string,
  ): Promise<DeviceInfo__Output[]>;
  revokeToken(
    request: RevokeTokenRequest,
    token: string,
  ): Promise<RevokeTokenResponse__Output>;
  openStream(
    token: string,
  ): ClientStream<ControllerMessage, DeviceResponse__Output>;
  /** relay.v1 CallMany: one result per device, in completion order (HTTP/2 only). */
  callMany?(
    request: CallManyRequest,
    token: string,
    signal?: AbortSignal,
  ): AsyncIterable<CallManyResult__Output>;
  /** relay.v1 Drain (admins; HTTP/2 only): the relay drains, then stops. */
  drain?(request: DrainRequest, token: string): Promise<DrainResponse__Output>;
  /** One unary call to a device's own gRPC server, bytes in and out (HTTP/2 only). */
  unaryGrpcCall?(
    call: UnaryGrpcCall,
    token: string,
  ): Promise<UnaryGrpcResult>;
  close(): void;
}

export interface UnaryGrpcCall {
  deviceId: string;
  /** "/package.Service/Method". */
  method: string;
  request: Uint8Array;
  metadata: MetadataEntry[];
  /** 0 for no deadline. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** The device server's status; `response` only with OK. */
export interface UnaryGrpcResult extends GrpcStatus {
  response: Uint8Array | undefined;
}
