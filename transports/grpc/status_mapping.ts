// The one place that maps RelayError codes to gRPC status codes and back.
import * as grpc from "@grpc/grpc-js";
import {
  type ErrorCode,
  isErrorCode,
  RelayError,
} from "../../src/errors/relay_error.ts";
import { ERROR_CODE_HEADER } from "./relay_proto.ts";
import { grpcStatusOf } from "../../src/errors/grpc_status.ts";

const FROM_STATUS = new Map<grpc.status, ErrorCode>([
  [grpc.status.UNAUTHENTICATED, "UNAUTHORIZED"],
  [grpc.status.PERMISSION_DENIED, "PERMISSION_DENIED"],
  [grpc.status.NOT_FOUND, "DEVICE_NOT_FOUND"],
  [grpc.status.RESOURCE_EXHAUSTED, "RATE_LIMITED"],
  [grpc.status.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"],
  [grpc.status.INVALID_ARGUMENT, "INVALID_REQUEST"],
  [grpc.status.UNIMPLEMENTED, "METHOD_NOT_FOUND"],
  [grpc.status.CANCELLED, "CANCELLED"],
  [grpc.status.UNAVAILABLE, "UNAVAILABLE"],
  [grpc.status.INTERNAL, "INTERNAL_ERROR"],
]);

export function toServiceError(error: RelayError): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_HEADER, error.code);
  return { code: grpcStatusOf(error.code), details: error.message, metadata };
}

const REFUSED =
  /ECONNREFUSED|socket disconnected before secure TLS connection was established/;

/** Turns a gRPC client error into a RelayError with the relay's own code. */
export function fromServiceError(error: unknown): RelayError {
  if (error instanceof RelayError) return error;
  const status = error as Partial<grpc.ServiceError>;
  const header = status.metadata?.get(ERROR_CODE_HEADER)[0];
  const code = typeof header === "string" && isErrorCode(header)
    ? header
    : FROM_STATUS.get(status.code ?? grpc.status.UNKNOWN) ?? "UNAVAILABLE";
  const details = status.details || String(status.message ?? "transport error");
  return new RelayError(code, details, {
    source: "upstream",
    // grpc-js names the socket error only in the text. Refused: nothing
    // listens, or the relay closed the connection before TLS (shedding
    // handshakes); retrying soon costs the relay little either way.
    refused: code === "UNAVAILABLE" && REFUSED.test(details),
    cause: error,
  });
}
