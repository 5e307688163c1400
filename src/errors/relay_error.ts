// The one error type of the relay. Adapters are the only place that map a
// code to their wire format (gRPC status, frame error, ...).

/** Codes of relay.v1 ErrorCode, as strings (the proto enum names). */
export type ErrorCode =
  | "OK"
  | "DEVICE_OFFLINE"
  | "UNAUTHORIZED"
  | "DEVICE_NOT_FOUND"
  | "RATE_LIMITED"
  | "INTERNAL_ERROR"
  | "DEADLINE_EXCEEDED"
  | "INVALID_REQUEST"
  | "METHOD_NOT_FOUND"
  | "CANCELLED"
  | "UNAVAILABLE"
  | "PERMISSION_DENIED";

/** Where the failure originated, as in pingora: the caller, the far peer or us. */
export type ErrorSource = "downstream" | "upstream" | "internal";

const RETRYABLE: ReadonlySet<ErrorCode> = new Set([
  "DEVICE_OFFLINE",
  "RATE_LIMITED",
  "DEADLINE_EXCEEDED",
  "UNAVAILABLE",
]);

export interface RelayErrorOptions {
  source?: ErrorSource;
  retryable?: boolean;
  /** Nothing accepted the connection (TCP reset): the peer's process is down. */
  refused?: boolean;
  cause?: unknown;
}

export class RelayError extends Error {
  readonly code: ErrorCode;
  readonly source: ErrorSource;
  readonly retryable: boolean;
  readonly refused: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    options: RelayErrorOptions = {},
  ) {
    super(
      message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "RelayError";
    this.code = code;
    this.source = options.source ?? "internal";
    this.retryable = options.retryable ?? RETRYABLE.has(code);
    this.refused = options.refused ?? false;
  }

  /** Wraps anything thrown into a RelayError without leaking internals. */
  static from(
    error: unknown,
    fallback: ErrorCode = "INTERNAL_ERROR",
  ): RelayError {
    if (error instanceof RelayError) return error;
    return new RelayError(fallback, "internal error", { cause: error });
  }
}

export function isErrorCode(value: string): value is ErrorCode {
  return ALL_CODES.has(value as ErrorCode);
}

const ALL_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "OK",
  "DEVICE_OFFLINE",
  "UNAUTHORIZED",
  "DEVICE_NOT_FOUND",
  "RATE_LIMITED",
  "INTERNAL_ERROR",
  "DEADLINE_EXCEEDED",
  "INVALID_REQUEST",
  "METHOD_NOT_FOUND",
  "CANCELLED",
  "UNAVAILABLE",
  "PERMISSION_DENIED",
]);
