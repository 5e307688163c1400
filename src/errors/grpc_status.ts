// gRPC status codes (the numbers every gRPC library uses) and the one table
// from RelayError codes to them. The HTTP/2 adapter puts them on the wire;
// CallMany reports them per device, whether the device's server or the relay
// decided the outcome.
import type { ErrorCode } from "./relay_error.ts";

/** gRPC status code names, indexed by their number. */
export const GRPC_STATUS_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
] as const;

export type GrpcStatusName = typeof GRPC_STATUS_NAMES[number];

/** The name of a gRPC status code; "UNKNOWN" for a number outside 0-16. */
export function grpcStatusName(code: number): GrpcStatusName {
  return GRPC_STATUS_NAMES[code] ?? "UNKNOWN";
}

const STATUS_OF: Record<ErrorCode, GrpcStatusName> = {
  OK: "OK",
  DEVICE_OFFLINE: "UNAVAILABLE",
  UNAUTHORIZED: "UNAUTHENTICATED",
  DEVICE_NOT_FOUND: "NOT_FOUND",
  RATE_LIMITED: "RESOURCE_EXHAUSTED",
  INTERNAL_ERROR: "INTERNAL",
  DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
  INVALID_REQUEST: "INVALID_ARGUMENT",
  METHOD_NOT_FOUND: "UNIMPLEMENTED",
  CANCELLED: "CANCELLED",
  UNAVAILABLE: "UNAVAILABLE",
  PERMISSION_DENIED: "PERMISSION_DENIED",
};

/** The gRPC status code a RelayError code is reported with. */
export function grpcStatusOf(code: ErrorCode): number {
  return GRPC_STATUS_NAMES.indexOf(STATUS_OF[code]);
}
