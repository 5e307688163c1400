// testsvc's methods, typed, on a grpc-js client of the relay
// (relay_grpc_client.ts): one function per method of proto/testsvc.proto.
import type * as grpc from "@grpc/grpc-js";
import {
  type Call,
  type CallTarget,
  methodOf,
  startCall,
} from "./relay_grpc_client.ts";
import {
  type BlockRequest,
  type EchoReply,
  type EchoRequest,
  type EventsReply,
  type FailRequest,
  type MetadataReply,
  type StreamRequest,
  type SumReply,
  testService,
} from "./testsvc_proto.ts";

export interface Testsvc {
  unary(target: CallTarget, request: EchoRequest): Call<never, EchoReply>;
  serverStream(
    target: CallTarget,
    request: StreamRequest,
  ): Call<never, EchoReply>;
  clientStream(target: CallTarget): Call<EchoRequest, SumReply>;
  bidi(target: CallTarget): Call<EchoRequest, EchoReply>;
  block(target: CallTarget, request: BlockRequest): Call<never, EchoReply>;
  events(target: CallTarget): Call<never, EventsReply>;
  fail(target: CallTarget, request: FailRequest): Call<never, EchoReply>;
  metadata(
    target: CallTarget,
    request: EchoRequest,
  ): Call<never, MetadataReply>;
}

export function testsvc(client: grpc.Client): Testsvc {
  const service = testService();
  const unaryRequest = <Req, Res>(name: string) => {
    const codec = methodOf<Req, Res>(service, name);
    return (target: CallTarget, request: Req) =>
      startCall(client, codec, target, request) as Call<never, Res>;
  };
  const streamingRequest = <Req, Res>(name: string) => {
    const codec = methodOf<Req, Res>(service, name);
    return (target: CallTarget) => startCall(client, codec, target);
  };
  return {
    unary: unaryRequest<EchoRequest, EchoReply>("Unary"),
    serverStream: unaryRequest<StreamRequest, EchoReply>("ServerStream"),
    clientStream: streamingRequest<EchoRequest, SumReply>("ClientStream"),
    bidi: streamingRequest<EchoRequest, EchoReply>("Bidi"),
    block: unaryRequest<BlockRequest, EchoReply>("Block"),
    events: (target) =>
      unaryRequest<Record<never, never>, EventsReply>("Events")(target, {}),
    fail: unaryRequest<FailRequest, EchoReply>("Fail"),
    metadata: unaryRequest<EchoRequest, MetadataReply>("Metadata"),
  };
}
