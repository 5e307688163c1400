// The console's call form: one request to a device through the relay's own
// request path (RequestRouter.route, as a ConnectToDevice request takes), so
// RBAC, the method allow-lists, rate limits, deadlines, idempotency rules,
// metrics and audit are the gRPC API's. The relay cannot encrypt end to end
// for the operator (it would see the plaintext itself), so the payload goes
// as plaintext: a device that accepts only E2E-encrypted requests (the
// SDK's default) refuses it, and the console shows that refusal as it is.
import { Buffer } from "node:buffer";
import type { MethodPolicy } from "../auth/access_policy.ts";
import type { ControllerPrincipal } from "../auth/controller_auth.ts";
import { validateDeviceId } from "../auth/device_id.ts";
import { authorizeDeviceCall } from "../core/device_access.ts";
import type { Gatekeeper, Peer } from "../core/gatekeeper.ts";
import type { RequestRouter } from "../core/request_router.ts";
import { RelayError } from "../errors/relay_error.ts";

/** Used when the form leaves the deadline empty. */
export const DEFAULT_CALL_TIMEOUT_MS = 10_000;

export interface CallInput {
  device_id: string;
  method: string;
  /** UTF-8 text, or base64 when `encoding` is "base64". */
  payload: string;
  encoding: "utf8" | "base64";
  /** 0: DEFAULT_CALL_TIMEOUT_MS; capped by relay.request.max_timeout_seconds. */
  timeout_ms: number;
}

export interface CallResult {
  code: string;
  message: string;
  payload_base64: string;
  /** The answer as text when it is valid UTF-8, else null. */
  payload_text: string | null;
  elapsed_ms: number;
}

export interface CallDeps {
  router: RequestRouter;
  gate: Gatekeeper;
  methodPolicy: MethodPolicy;
  /** Project of a device (online here, or known to the store); undefined: none. */
  deviceProject: (deviceId: string) => string | undefined;
}

export async function consoleCall(
  principal: ControllerPrincipal,
  input: CallInput,
  context: { peer: Peer; signal: AbortSignal },
  deps: CallDeps,
): Promise<CallResult> {
  validateDeviceId(input.device_id);
  try {
    // The router checks this again; checked here first so that a refusal is
    // an HTTP 403/404 rather than an answer, with the router's own rules.
    authorizeDeviceCall(
      principal,
      deps.deviceProject(input.device_id),
      input.method,
      {
        policy: deps.methodPolicy,
        // The same answer for a device that does not exist and one the
        // caller may not see, whatever the role.
        hidden: () =>
          new RelayError(
            "DEVICE_NOT_FOUND",
            "device not found or not accessible",
            { source: "downstream" },
          ),
      },
    );
  } catch (error) {
    deps.gate.denied(
      context.peer,
      principal,
      RelayError.from(error),
      input.device_id,
    );
    throw error;
  }
  const started = performance.now();
  const response = await deps.router.route(
    principal,
    {
      controller_id: principal.controllerId,
      token: "",
      target_device_id: input.device_id,
      method_name: input.method,
      // 0 is "unset": a form submitted twice is two calls, never deduplicated.
      sequence_number: 0,
      encrypted_payload: Buffer.from(payloadBytes(input)),
      timeout_ms: input.timeout_ms > 0
        ? input.timeout_ms
        : DEFAULT_CALL_TIMEOUT_MS,
      traceparent: "",
    },
    // No traceparent of its own: the console's HTTP span (Deno's) is active.
    { ...context.peer, signal: context.signal, traceparent: "" },
  );
  const payload = response.encrypted_payload;
  return {
    code: String(response.error),
    message: response.error_message,
    payload_base64: Buffer.from(payload).toString("base64"),
    payload_text: utf8(payload),
    elapsed_ms: Math.round(performance.now() - started),
  };
}

/** The call form's JSON body, checked field by field. */
export function parseCallInput(body: unknown): CallInput {
  const value = (body ?? {}) as Record<string, unknown>;
  const text = (key: string) => {
    const field = value[key] ?? "";
    if (typeof field !== "string") throw invalid(`${key} must be a string`);
    return field;
  };
  const encoding = text("encoding") || "utf8";
  if (encoding !== "utf8" && encoding !== "base64") {
    throw invalid('encoding must be "utf8" or "base64"');
  }
  const timeout = value.timeout_ms ?? 0;
  if (
    typeof timeout !== "number" || !Number.isInteger(timeout) || timeout < 0
  ) {
    throw invalid("timeout_ms must be a whole number of milliseconds");
  }
  const input = {
    device_id: text("device_id"),
    method: text("method"),
    payload: text("payload"),
    encoding,
    timeout_ms: timeout,
  } as const;
  if (input.device_id === "") throw invalid("device_id is required");
  if (input.method === "") throw invalid("method is required");
  return input;
}

function payloadBytes(input: CallInput): Uint8Array {
  if (input.encoding === "utf8") return new TextEncoder().encode(input.payload);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(input.payload.replace(/\s/g, ""))) {
    throw invalid("payload is not valid base64");
  }
  return Buffer.from(input.payload, "base64");
}

function utf8(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (_notText) {
    return null;
  }
}

function invalid(message: string): RelayError {
  return new RelayError("INVALID_REQUEST", message, { source: "downstream" });
}
