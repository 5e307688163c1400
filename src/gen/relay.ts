import type * as grpc from "@grpc/grpc-js";
import type {
  EnumTypeDefinition,
  MessageTypeDefinition,
} from "@grpc/proto-loader";

import type {
  CallManyRequest as _relay_v1_CallManyRequest,
  CallManyRequest__Output as _relay_v1_CallManyRequest__Output,
} from "./relay/v1/CallManyRequest.ts";
import type {
  CallManyResult as _relay_v1_CallManyResult,
  CallManyResult__Output as _relay_v1_CallManyResult__Output,
} from "./relay/v1/CallManyResult.ts";
import type {
  ControllerMessage as _relay_v1_ControllerMessage,
  ControllerMessage__Output as _relay_v1_ControllerMessage__Output,
} from "./relay/v1/ControllerMessage.ts";
import type {
  ControllerStreamFrame as _relay_v1_ControllerStreamFrame,
  ControllerStreamFrame__Output as _relay_v1_ControllerStreamFrame__Output,
} from "./relay/v1/ControllerStreamFrame.ts";
import type {
  DataRequest as _relay_v1_DataRequest,
  DataRequest__Output as _relay_v1_DataRequest__Output,
} from "./relay/v1/DataRequest.ts";
import type {
  DataResponse as _relay_v1_DataResponse,
  DataResponse__Output as _relay_v1_DataResponse__Output,
} from "./relay/v1/DataResponse.ts";
import type {
  DeviceInfo as _relay_v1_DeviceInfo,
  DeviceInfo__Output as _relay_v1_DeviceInfo__Output,
} from "./relay/v1/DeviceInfo.ts";
import type {
  DeviceMessage as _relay_v1_DeviceMessage,
  DeviceMessage__Output as _relay_v1_DeviceMessage__Output,
} from "./relay/v1/DeviceMessage.ts";
import type {
  DevicePublish as _relay_v1_DevicePublish,
  DevicePublish__Output as _relay_v1_DevicePublish__Output,
} from "./relay/v1/DevicePublish.ts";
import type {
  DeviceResponse as _relay_v1_DeviceResponse,
  DeviceResponse__Output as _relay_v1_DeviceResponse__Output,
} from "./relay/v1/DeviceResponse.ts";
import type {
  DrainRequest as _relay_v1_DrainRequest,
  DrainRequest__Output as _relay_v1_DrainRequest__Output,
} from "./relay/v1/DrainRequest.ts";
import type {
  DrainResponse as _relay_v1_DrainResponse,
  DrainResponse__Output as _relay_v1_DrainResponse__Output,
} from "./relay/v1/DrainResponse.ts";
import type {
  GrpcCallFrame as _relay_v1_GrpcCallFrame,
  GrpcCallFrame__Output as _relay_v1_GrpcCallFrame__Output,
} from "./relay/v1/GrpcCallFrame.ts";
import type {
  GrpcCallStart as _relay_v1_GrpcCallStart,
  GrpcCallStart__Output as _relay_v1_GrpcCallStart__Output,
} from "./relay/v1/GrpcCallStart.ts";
import type {
  GrpcMetadata as _relay_v1_GrpcMetadata,
  GrpcMetadata__Output as _relay_v1_GrpcMetadata__Output,
} from "./relay/v1/GrpcMetadata.ts";
import type {
  GrpcStatus as _relay_v1_GrpcStatus,
  GrpcStatus__Output as _relay_v1_GrpcStatus__Output,
} from "./relay/v1/GrpcStatus.ts";
import type {
  HalfClose as _relay_v1_HalfClose,
  HalfClose__Output as _relay_v1_HalfClose__Output,
} from "./relay/v1/HalfClose.ts";
import type {
  HeartbeatRequest as _relay_v1_HeartbeatRequest,
  HeartbeatRequest__Output as _relay_v1_HeartbeatRequest__Output,
} from "./relay/v1/HeartbeatRequest.ts";
import type {
  HeartbeatResponse as _relay_v1_HeartbeatResponse,
  HeartbeatResponse__Output as _relay_v1_HeartbeatResponse__Output,
} from "./relay/v1/HeartbeatResponse.ts";
import type {
  ListOnlineDevicesRequest as _relay_v1_ListOnlineDevicesRequest,
  ListOnlineDevicesRequest__Output
    as _relay_v1_ListOnlineDevicesRequest__Output,
} from "./relay/v1/ListOnlineDevicesRequest.ts";
import type {
  ListOnlineDevicesResponse as _relay_v1_ListOnlineDevicesResponse,
  ListOnlineDevicesResponse__Output
    as _relay_v1_ListOnlineDevicesResponse__Output,
} from "./relay/v1/ListOnlineDevicesResponse.ts";
import type {
  MetadataEntry as _relay_v1_MetadataEntry,
  MetadataEntry__Output as _relay_v1_MetadataEntry__Output,
} from "./relay/v1/MetadataEntry.ts";
import type {
  PublishAck as _relay_v1_PublishAck,
  PublishAck__Output as _relay_v1_PublishAck__Output,
} from "./relay/v1/PublishAck.ts";
import type {
  RegisterRequest as _relay_v1_RegisterRequest,
  RegisterRequest__Output as _relay_v1_RegisterRequest__Output,
} from "./relay/v1/RegisterRequest.ts";
import type {
  RegisterResponse as _relay_v1_RegisterResponse,
  RegisterResponse__Output as _relay_v1_RegisterResponse__Output,
} from "./relay/v1/RegisterResponse.ts";
import type {
  RelayError as _relay_v1_RelayError,
  RelayError__Output as _relay_v1_RelayError__Output,
} from "./relay/v1/RelayError.ts";
import type {
  RelayMessage as _relay_v1_RelayMessage,
  RelayMessage__Output as _relay_v1_RelayMessage__Output,
} from "./relay/v1/RelayMessage.ts";
import type {
  RelayMove as _relay_v1_RelayMove,
  RelayMove__Output as _relay_v1_RelayMove__Output,
} from "./relay/v1/RelayMove.ts";
import type {
  RelayServiceClient as _relay_v1_RelayServiceClient,
  RelayServiceDefinition as _relay_v1_RelayServiceDefinition,
} from "./relay/v1/RelayService.ts";
import type {
  RevokeTokenRequest as _relay_v1_RevokeTokenRequest,
  RevokeTokenRequest__Output as _relay_v1_RevokeTokenRequest__Output,
} from "./relay/v1/RevokeTokenRequest.ts";
import type {
  RevokeTokenResponse as _relay_v1_RevokeTokenResponse,
  RevokeTokenResponse__Output as _relay_v1_RevokeTokenResponse__Output,
} from "./relay/v1/RevokeTokenResponse.ts";
import type {
  StreamOpen as _relay_v1_StreamOpen,
  StreamOpen__Output as _relay_v1_StreamOpen__Output,
} from "./relay/v1/StreamOpen.ts";
import type {
  TunnelFrame as _relay_v1_TunnelFrame,
  TunnelFrame__Output as _relay_v1_TunnelFrame__Output,
} from "./relay/v1/TunnelFrame.ts";
import type {
  TunnelOpen as _relay_v1_TunnelOpen,
  TunnelOpen__Output as _relay_v1_TunnelOpen__Output,
} from "./relay/v1/TunnelOpen.ts";

type SubtypeConstructor<
  Constructor extends new (...args: any) => any,
  Subtype,
> = {
  new (...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  relay: {
    v1: {
      CallManyRequest: MessageTypeDefinition<
        _relay_v1_CallManyRequest,
        _relay_v1_CallManyRequest__Output
      >;
      CallManyResult: MessageTypeDefinition<
        _relay_v1_CallManyResult,
        _relay_v1_CallManyResult__Output
      >;
      ControllerMessage: MessageTypeDefinition<
        _relay_v1_ControllerMessage,
        _relay_v1_ControllerMessage__Output
      >;
      ControllerStreamFrame: MessageTypeDefinition<
        _relay_v1_ControllerStreamFrame,
        _relay_v1_ControllerStreamFrame__Output
      >;
      DataRequest: MessageTypeDefinition<
        _relay_v1_DataRequest,
        _relay_v1_DataRequest__Output
      >;
      DataResponse: MessageTypeDefinition<
        _relay_v1_DataResponse,
        _relay_v1_DataResponse__Output
      >;
      DeviceInfo: MessageTypeDefinition<
        _relay_v1_DeviceInfo,
        _relay_v1_DeviceInfo__Output
      >;
      DeviceMessage: MessageTypeDefinition<
        _relay_v1_DeviceMessage,
        _relay_v1_DeviceMessage__Output
      >;
      DevicePublish: MessageTypeDefinition<
        _relay_v1_DevicePublish,
        _relay_v1_DevicePublish__Output
      >;
      DeviceResponse: MessageTypeDefinition<
        _relay_v1_DeviceResponse,
        _relay_v1_DeviceResponse__Output
      >;
      DeviceState: EnumTypeDefinition;
      DrainRequest: MessageTypeDefinition<
        _relay_v1_DrainRequest,
        _relay_v1_DrainRequest__Output
      >;
      DrainResponse: MessageTypeDefinition<
        _relay_v1_DrainResponse,
        _relay_v1_DrainResponse__Output
      >;
      ErrorCode: EnumTypeDefinition;
      GrpcCallFrame: MessageTypeDefinition<
        _relay_v1_GrpcCallFrame,
        _relay_v1_GrpcCallFrame__Output
      >;
      GrpcCallStart: MessageTypeDefinition<
        _relay_v1_GrpcCallStart,
        _relay_v1_GrpcCallStart__Output
      >;
      GrpcMetadata: MessageTypeDefinition<
        _relay_v1_GrpcMetadata,
        _relay_v1_GrpcMetadata__Output
      >;
      GrpcStatus: MessageTypeDefinition<
        _relay_v1_GrpcStatus,
        _relay_v1_GrpcStatus__Output
      >;
      HalfClose: MessageTypeDefinition<
        _relay_v1_HalfClose,
        _relay_v1_HalfClose__Output
      >;
      HeartbeatRequest: MessageTypeDefinition<
        _relay_v1_HeartbeatRequest,
        _relay_v1_HeartbeatRequest__Output
      >;
      HeartbeatResponse: MessageTypeDefinition<
        _relay_v1_HeartbeatResponse,
        _relay_v1_HeartbeatResponse__Output
      >;
      ListOnlineDevicesRequest: MessageTypeDefinition<
        _relay_v1_ListOnlineDevicesRequest,
        _relay_v1_ListOnlineDevicesRequest__Output
      >;
      ListOnlineDevicesResponse: MessageTypeDefinition<
        _relay_v1_ListOnlineDevicesResponse,
        _relay_v1_ListOnlineDevicesResponse__Output
      >;
      MetadataEntry: MessageTypeDefinition<
        _relay_v1_MetadataEntry,
        _relay_v1_MetadataEntry__Output
      >;
      PublishAck: MessageTypeDefinition<
        _relay_v1_PublishAck,
        _relay_v1_PublishAck__Output
      >;
      RegisterRequest: MessageTypeDefinition<
        _relay_v1_RegisterRequest,
        _relay_v1_RegisterRequest__Output
      >;
      RegisterResponse: MessageTypeDefinition<
        _relay_v1_RegisterResponse,
        _relay_v1_RegisterResponse__Output
      >;
      RelayError: MessageTypeDefinition<
        _relay_v1_RelayError,
        _relay_v1_RelayError__Output
      >;
      RelayMessage: MessageTypeDefinition<
        _relay_v1_RelayMessage,
        _relay_v1_RelayMessage__Output
      >;
      RelayMove: MessageTypeDefinition<
        _relay_v1_RelayMove,
        _relay_v1_RelayMove__Output
      >;
      RelayService:
        & SubtypeConstructor<typeof grpc.Client, _relay_v1_RelayServiceClient>
        & { service: _relay_v1_RelayServiceDefinition };
      RevokeTokenRequest: MessageTypeDefinition<
        _relay_v1_RevokeTokenRequest,
        _relay_v1_RevokeTokenRequest__Output
      >;
      RevokeTokenResponse: MessageTypeDefinition<
        _relay_v1_RevokeTokenResponse,
        _relay_v1_RevokeTokenResponse__Output
      >;
      StreamKind: EnumTypeDefinition;
      StreamOpen: MessageTypeDefinition<
        _relay_v1_StreamOpen,
        _relay_v1_StreamOpen__Output
      >;
      TokenTargetType: EnumTypeDefinition;
      TunnelFrame: MessageTypeDefinition<
        _relay_v1_TunnelFrame,
        _relay_v1_TunnelFrame__Output
      >;
      TunnelKind: EnumTypeDefinition;
      TunnelOpen: MessageTypeDefinition<
        _relay_v1_TunnelOpen,
        _relay_v1_TunnelOpen__Output
      >;
    };
  };
}
