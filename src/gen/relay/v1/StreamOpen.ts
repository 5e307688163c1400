// Original file: proto/relay/v1/relay.proto

import type {
  StreamKind as _relay_v1_StreamKind,
  StreamKind__Output as _relay_v1_StreamKind__Output,
} from "../../relay/v1/StreamKind.ts";

export interface StreamOpen {
  "kind"?: _relay_v1_StreamKind;
  "authorization"?: string;
}

export interface StreamOpen__Output {
  "kind": _relay_v1_StreamKind__Output;
  "authorization": string;
}
