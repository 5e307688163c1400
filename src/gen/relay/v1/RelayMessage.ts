// Original file: proto/relay/v1/relay.proto

import type {
  RegisterResponse as _relay_v1_RegisterResponse,
  RegisterResponse__Output as _relay_v1_RegisterResponse__Output,
} from "../../relay/v1/RegisterResponse.ts";
import type {
  HeartbeatResponse as _relay_v1_HeartbeatResponse,
  HeartbeatResponse__Output as _relay_v1_HeartbeatResponse__Output,
} from "../../relay/v1/HeartbeatResponse.ts";
import type {
  DataRequest as _relay_v1_DataRequest,
  DataRequest__Output as _relay_v1_DataRequest__Output,
} from "../../relay/v1/DataRequest.ts";
import type {
  RelayError as _relay_v1_RelayError,
  RelayError__Output as _relay_v1_RelayError__Output,
} from "../../relay/v1/RelayError.ts";
import type {
  PublishAck as _relay_v1_PublishAck,
  PublishAck__Output as _relay_v1_PublishAck__Output,
} from "../../relay/v1/PublishAck.ts";
import type {
  GrpcCallStart as _relay_v1_GrpcCallStart,
  GrpcCallStart__Output as _relay_v1_GrpcCallStart__Output,
} from "../../relay/v1/GrpcCallStart.ts";
import type {
  RelayMove as _relay_v1_RelayMove,
  RelayMove__Output as _relay_v1_RelayMove__Output,
} from "../../relay/v1/RelayMove.ts";

export interface RelayMessage {
  "register_response"?: _relay_v1_RegisterResponse | null;
  "heartbeat_response"?: _relay_v1_HeartbeatResponse | null;
  "data_request"?: _relay_v1_DataRequest | null;
  "error"?: _relay_v1_RelayError | null;
  "publish_ack"?: _relay_v1_PublishAck | null;
  "grpc_call"?: _relay_v1_GrpcCallStart | null;
  "move"?: _relay_v1_RelayMove | null;
  "payload"?:
    | "register_response"
    | "heartbeat_response"
    | "data_request"
    | "error"
    | "publish_ack"
    | "grpc_call"
    | "move";
}

export interface RelayMessage__Output {
  "register_response"?: _relay_v1_RegisterResponse__Output | null;
  "heartbeat_response"?: _relay_v1_HeartbeatResponse__Output | null;
  "data_request"?: _relay_v1_DataRequest__Output | null;
  "error"?: _relay_v1_RelayError__Output | null;
  "publish_ack"?: _relay_v1_PublishAck__Output | null;
  "grpc_call"?: _relay_v1_GrpcCallStart__Output | null;
  "move"?: _relay_v1_RelayMove__Output | null;
  "payload"?:
    | "register_response"
    | "heartbeat_response"
    | "data_request"
    | "error"
    | "publish_ack"
    | "grpc_call"
    | "move";
}
