// testsvc (proto/testsvc.proto) for grpc-js: the package definition, loaded
// once with @grpc/proto-loader, and the TypeScript shape of its messages as
// proto-loader decodes them (bytes as Buffer, defaults filled in).
import type * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { Buffer } from "node:buffer";
import { fileURLToPath } from "node:url";

export const PROTO_FILE = fileURLToPath(
  new URL("./proto/testsvc.proto", import.meta.url),
);
export const SERVICE = "testsvc.TestService";

/** "/testsvc.TestService/<name>" */
export const methodPath = (name: string): string => `/${SERVICE}/${name}`;

let loaded: protoLoader.PackageDefinition | undefined;

export function testsvcDefinition(): protoLoader.PackageDefinition {
  loaded ??= protoLoader.loadSync(PROTO_FILE, {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
  });
  return loaded;
}

/** The service's methods (paths, serializers) for grpc-js clients and servers. */
export function testService(): grpc.ServiceDefinition {
  return testsvcDefinition()[SERVICE] as grpc.ServiceDefinition;
}

export interface EchoRequest {
  text?: string;
  payload?: Uint8Array;
}
export interface EchoReply {
  text: string;
  payload: Buffer;
}
export interface StreamRequest {
  text?: string;
  count?: number;
  interval_ms?: number;
}
export interface SumReply {
  count: number;
  text: string;
  payload_bytes: number;
}
export interface BlockRequest {
  tag?: string;
  sleep_ms?: number;
}
export interface TestEvent {
  tag: string;
  kind: "started" | "cancelled" | "finished";
  time_remaining_ms: number;
}
export interface EventsReply {
  events: TestEvent[];
}
export interface Entry {
  key: string;
  value?: string;
  bin_value?: Uint8Array;
}
export interface FailRequest {
  code: number;
  message: string;
  trailers?: Entry[];
}
export interface MetadataReply {
  entries: Required<Entry>[];
}
