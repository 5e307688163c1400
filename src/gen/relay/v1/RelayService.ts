// Original file: proto/relay/v1/relay.proto

import type * as grpc from "@grpc/grpc-js";
import type { MethodDefinition } from "@grpc/proto-loader";
import type {
  CallManyRequest as _relay_v1_CallManyRequest,
  CallManyRequest__Output as _relay_v1_CallManyRequest__Output,
} from "../../relay/v1/CallManyRequest.ts";
import type {
  CallManyResult as _relay_v1_CallManyResult,
  CallManyResult__Output as _relay_v1_CallManyResult__Output,
} from "../../relay/v1/CallManyResult.ts";
import type {
  ControllerMessage as _relay_v1_ControllerMessage,
  ControllerMessage__Output as _relay_v1_ControllerMessage__Output,
} from "../../relay/v1/ControllerMessage.ts";
import type {
  DeviceMessage as _relay_v1_DeviceMessage,
  DeviceMessage__Output as _relay_v1_DeviceMessage__Output,
} from "../../relay/v1/DeviceMessage.ts";
import type {
  DeviceResponse as _relay_v1_DeviceResponse,
  DeviceResponse__Output as _relay_v1_DeviceResponse__Output,
} from "../../relay/v1/DeviceResponse.ts";
import type {
  DrainRequest as _relay_v1_DrainRequest,
  DrainRequest__Output as _relay_v1_DrainRequest__Output,
} from "../../relay/v1/DrainRequest.ts";
import type {
  DrainResponse as _relay_v1_DrainResponse,
  DrainResponse__Output as _relay_v1_DrainResponse__Output,
} from "../../relay/v1/DrainResponse.ts";
import type {
  ListOnlineDevicesRequest as _relay_v1_ListOnlineDevicesRequest,
  ListOnlineDevicesRequest__Output
    as _relay_v1_ListOnlineDevicesRequest__Output,
} from "../../relay/v1/ListOnlineDevicesRequest.ts";
import type {
  ListOnlineDevicesResponse as _relay_v1_ListOnlineDevicesResponse,
  ListOnlineDevicesResponse__Output
    as _relay_v1_ListOnlineDevicesResponse__Output,
} from "../../relay/v1/ListOnlineDevicesResponse.ts";
import type {
  RelayMessage as _relay_v1_RelayMessage,
  RelayMessage__Output as _relay_v1_RelayMessage__Output,
} from "../../relay/v1/RelayMessage.ts";
import type {
  RevokeTokenRequest as _relay_v1_RevokeTokenRequest,
  RevokeTokenRequest__Output as _relay_v1_RevokeTokenRequest__Output,
} from "../../relay/v1/RevokeTokenRequest.ts";
import type {
  RevokeTokenResponse as _relay_v1_RevokeTokenResponse,
  RevokeTokenResponse__Output as _relay_v1_RevokeTokenResponse__Output,
} from "../../relay/v1/RevokeTokenResponse.ts";
import type {
  TunnelFrame as _relay_v1_TunnelFrame,
  TunnelFrame__Output as _relay_v1_TunnelFrame__Output,
} from "../../relay/v1/TunnelFrame.ts";

export interface RelayServiceClient extends grpc.Client {
  CallMany(
    argument: _relay_v1_CallManyRequest,
    metadata: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientReadableStream<_relay_v1_CallManyResult__Output>;
  CallMany(
    argument: _relay_v1_CallManyRequest,
    options?: grpc.CallOptions,
  ): grpc.ClientReadableStream<_relay_v1_CallManyResult__Output>;
  callMany(
    argument: _relay_v1_CallManyRequest,
    metadata: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientReadableStream<_relay_v1_CallManyResult__Output>;
  callMany(
    argument: _relay_v1_CallManyRequest,
    options?: grpc.CallOptions,
  ): grpc.ClientReadableStream<_relay_v1_CallManyResult__Output>;

  ConnectToDevice(
    metadata: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<
    _relay_v1_ControllerMessage,
    _relay_v1_DeviceResponse__Output
  >;
  ConnectToDevice(
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<
    _relay_v1_ControllerMessage,
    _relay_v1_DeviceResponse__Output
  >;
  connectToDevice(
    metadata: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<
    _relay_v1_ControllerMessage,
    _relay_v1_DeviceResponse__Output
  >;
  connectToDevice(
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<
    _relay_v1_ControllerMessage,
    _relay_v1_DeviceResponse__Output
  >;

  DeviceConnect(
    metadata: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<
    _relay_v1_DeviceMessage,
    _relay_v1_RelayMessage__Output
  >;
  DeviceConnect(
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<
    _relay_v1_DeviceMessage,
    _relay_v1_RelayMessage__Output
  >;
  deviceConnect(
    metadata: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<
    _relay_v1_DeviceMessage,
    _relay_v1_RelayMessage__Output
  >;
  deviceConnect(
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<
    _relay_v1_DeviceMessage,
    _relay_v1_RelayMessage__Output
  >;

  Drain(
    argument: _relay_v1_DrainRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_relay_v1_DrainResponse__Output>,
  ): grpc.ClientUnaryCall;
  Drain(
    argument: _relay_v1_DrainRequest,
    metadata: grpc.Metadata,
    callback: grpc.requestCallback<_relay_v1_DrainResponse__Output>,
  ): grpc.ClientUnaryCall;
  Drain(
    argument: _relay_v1_DrainRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_relay_v1_DrainResponse__Output>,
  ): grpc.ClientUnaryCall;
  Drain(
    argument: _relay_v1_DrainRequest,
    callback: grpc.requestCallback<_relay_v1_DrainResponse__Output>,
  ): grpc.ClientUnaryCall;
  drain(
    argument: _relay_v1_DrainRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_relay_v1_DrainResponse__Output>,
  ): grpc.ClientUnaryCall;
  drain(
    argument: _relay_v1_DrainRequest,
    metadata: grpc.Metadata,
    callback: grpc.requestCallback<_relay_v1_DrainResponse__Output>,
  ): grpc.ClientUnaryCall;
  drain(
    argument: _relay_v1_DrainRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_relay_v1_DrainResponse__Output>,
  ): grpc.ClientUnaryCall;
  drain(
    argument: _relay_v1_DrainRequest,
    callback: grpc.requestCallback<_relay_v1_DrainResponse__Output>,
  ): grpc.ClientUnaryCall;

  ListOnlineDevices(
    argument: _relay_v1_ListOnlineDevicesRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_relay_v1_ListOnlineDevicesResponse__Output>,
  ): grpc.ClientUnaryCall;
  ListOnlineDevices(
    argument: _relay_v1_ListOnlineDevicesRequest,
    metadata: grpc.Metadata,
    callback: grpc.requestCallback<_relay_v1_ListOnlineDevicesResponse__Output>,
  ): grpc.ClientUnaryCall;
  ListOnlineDevices(
    argument: _relay_v1_ListOnlineDevicesRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_relay_v1_ListOnlineDevicesResponse__Output>,
  ): grpc.ClientUnaryCall;
  ListOnlineDevices(
    argument: _relay_v1_ListOnlineDevicesRequest,
    callback: grpc.requestCallback<_relay_v1_ListOnlineDevicesResponse__Output>,
  ): grpc.ClientUnaryCall;
  listOnlineDevices(
    argument: _relay_v1_ListOnlineDevicesRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_relay_v1_ListOnlineDevicesResponse__Output>,
  ): grpc.ClientUnaryCall;
  listOnlineDevices(
    argument: _relay_v1_ListOnlineDevicesRequest,
    metadata: grpc.Metadata,
    callback: grpc.requestCallback<_relay_v1_ListOnlineDevicesResponse__Output>,
  ): grpc.ClientUnaryCall;
  listOnlineDevices(
    argument: _relay_v1_ListOnlineDevicesRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_relay_v1_ListOnlineDevicesResponse__Output>,
  ): grpc.ClientUnaryCall;
  listOnlineDevices(
    argument: _relay_v1_ListOnlineDevicesRequest,
    callback: grpc.requestCallback<_relay_v1_ListOnlineDevicesResponse__Output>,
  ): grpc.ClientUnaryCall;

  OpenTunnel(
    metadata: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<
    _relay_v1_TunnelFrame,
    _relay_v1_TunnelFrame__Output
  >;
  OpenTunnel(
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<
    _relay_v1_TunnelFrame,
    _relay_v1_TunnelFrame__Output
  >;
  openTunnel(
    metadata: grpc.Metadata,
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<
    _relay_v1_TunnelFrame,
    _relay_v1_TunnelFrame__Output
  >;
  openTunnel(
    options?: grpc.CallOptions,
  ): grpc.ClientDuplexStream<
    _relay_v1_TunnelFrame,
    _relay_v1_TunnelFrame__Output
  >;

  RevokeToken(
    argument: _relay_v1_RevokeTokenRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_relay_v1_RevokeTokenResponse__Output>,
  ): grpc.ClientUnaryCall;
  RevokeToken(
    argument: _relay_v1_RevokeTokenRequest,
    metadata: grpc.Metadata,
    callback: grpc.requestCallback<_relay_v1_RevokeTokenResponse__Output>,
  ): grpc.ClientUnaryCall;
  RevokeToken(
    argument: _relay_v1_RevokeTokenRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_relay_v1_RevokeTokenResponse__Output>,
  ): grpc.ClientUnaryCall;
  RevokeToken(
    argument: _relay_v1_RevokeTokenRequest,
    callback: grpc.requestCallback<_relay_v1_RevokeTokenResponse__Output>,
  ): grpc.ClientUnaryCall;
  revokeToken(
    argument: _relay_v1_RevokeTokenRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_relay_v1_RevokeTokenResponse__Output>,
  ): grpc.ClientUnaryCall;
  revokeToken(
    argument: _relay_v1_RevokeTokenRequest,
    metadata: grpc.Metadata,
    callback: grpc.requestCallback<_relay_v1_RevokeTokenResponse__Output>,
  ): grpc.ClientUnaryCall;
  revokeToken(
    argument: _relay_v1_RevokeTokenRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<_relay_v1_RevokeTokenResponse__Output>,
  ): grpc.ClientUnaryCall;
  revokeToken(
    argument: _relay_v1_RevokeTokenRequest,
    callback: grpc.requestCallback<_relay_v1_RevokeTokenResponse__Output>,
  ): grpc.ClientUnaryCall;
}

export interface RelayServiceHandlers
  extends grpc.UntypedServiceImplementation {
  CallMany: grpc.handleServerStreamingCall<
    _relay_v1_CallManyRequest__Output,
    _relay_v1_CallManyResult
  >;

  ConnectToDevice: grpc.handleBidiStreamingCall<
    _relay_v1_ControllerMessage__Output,
    _relay_v1_DeviceResponse
  >;

  DeviceConnect: grpc.handleBidiStreamingCall<
    _relay_v1_DeviceMessage__Output,
    _relay_v1_RelayMessage
  >;

  Drain: grpc.handleUnaryCall<
    _relay_v1_DrainRequest__Output,
    _relay_v1_DrainResponse
  >;

  ListOnlineDevices: grpc.handleUnaryCall<
    _relay_v1_ListOnlineDevicesRequest__Output,
    _relay_v1_ListOnlineDevicesResponse
  >;

  OpenTunnel: grpc.handleBidiStreamingCall<
    _relay_v1_TunnelFrame__Output,
    _relay_v1_TunnelFrame
  >;

  RevokeToken: grpc.handleUnaryCall<
    _relay_v1_RevokeTokenRequest__Output,
    _relay_v1_RevokeTokenResponse
  >;
}

export interface RelayServiceDefinition extends grpc.ServiceDefinition {
  CallMany: MethodDefinition<
    _relay_v1_CallManyRequest,
    _relay_v1_CallManyResult,
    _relay_v1_CallManyRequest__Output,
    _relay_v1_CallManyResult__Output
  >;
  ConnectToDevice: MethodDefinition<
    _relay_v1_ControllerMessage,
    _relay_v1_DeviceResponse,
    _relay_v1_ControllerMessage__Output,
    _relay_v1_DeviceResponse__Output
  >;
  DeviceConnect: MethodDefinition<
    _relay_v1_DeviceMessage,
    _relay_v1_RelayMessage,
    _relay_v1_DeviceMessage__Output,
    _relay_v1_RelayMessage__Output
  >;
  Drain: MethodDefinition<
    _relay_v1_DrainRequest,
    _relay_v1_DrainResponse,
    _relay_v1_DrainRequest__Output,
    _relay_v1_DrainResponse__Output
  >;
  ListOnlineDevices: MethodDefinition<
    _relay_v1_ListOnlineDevicesRequest,
    _relay_v1_ListOnlineDevicesResponse,
    _relay_v1_ListOnlineDevicesRequest__Output,
    _relay_v1_ListOnlineDevicesResponse__Output
  >;
  OpenTunnel: MethodDefinition<
    _relay_v1_TunnelFrame,
    _relay_v1_TunnelFrame,
    _relay_v1_TunnelFrame__Output,
    _relay_v1_TunnelFrame__Output
  >;
  RevokeToken: MethodDefinition<
    _relay_v1_RevokeTokenRequest,
    _relay_v1_RevokeTokenResponse,
    _relay_v1_RevokeTokenRequest__Output,
    _relay_v1_RevokeTokenResponse__Output
  >;
}
