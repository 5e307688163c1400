// The console's HTTP API is the one place RelayError codes become HTTP
// statuses: every error answer is JSON { code, message } with this status.
import {
  type ErrorCode,
  isErrorCode,
  RelayError,
} from "../errors/relay_error.ts";

const STATUS_OF: Record<ErrorCode, number> = {
  OK: 200,
  INVALID_REQUEST: 400,
  UNAUTHORIZED: 401,
  PERMISSION_DENIED: 403,
  DEVICE_NOT_FOUND: 404,
  METHOD_NOT_FOUND: 404,
  RATE_LIMITED: 429,
  CANCELLED: 499,
  INTERNAL_ERROR: 500,
  DEVICE_OFFLINE: 503,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
};

/** The HTTP status a RelayError code is answered with. */
export function httpStatusOf(code: ErrorCode): number {
  return STATUS_OF[code];
}

/**
 * The status of a device's answer to a call: its code's, and 502 for a code
 * the device invented (the relay does not know what it means).
 */
export function httpStatusOfAnswer(code: string): number {
  return isErrorCode(code) ? STATUS_OF[code] : 502;
}

/** Security headers of every console response: nothing but the relay's own files. */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

/** A JSON answer with the console's headers. */
export function jsonResponse(body: unknown, status = 200): Response {
  return Response.json(body, { status, headers: CONSOLE_HEADERS });
}

/** Any error as the console's JSON error answer (internals never leak). */
export function errorResponse(error: unknown): Response {
  const relayError = RelayError.from(error);
  const headers: Record<string, string> = {};
  if (relayError.code === "UNAUTHORIZED") {
    headers["www-authenticate"] = 'Bearer realm="relay-console"';
  }
  return Response.json(
    { code: relayError.code, message: relayError.message },
    {
      status: httpStatusOf(relayError.code),
      headers: { ...CONSOLE_HEADERS, ...headers },
    },
  );
}
