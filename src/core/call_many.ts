// CallMany: one unary call of a device's own gRPC service on many devices.
// The targets are the named devices plus the online devices the caller may
// see whose labels match the selector. Calls run with a concurrency bound and
// a deadline each; every target gets exactly one result, in the order the
// calls complete, offline and refused devices included (their status says
// why). Results wait in a queue no longer than the concurrency bound, so a
// slow reader holds back the calls, not the relay's memory. In a cluster the
// selector also matches the devices other relays hold, and their calls go
// through those relays (GrpcCallRouter forwards them).
import { canSee } from "../auth/access_policy.ts";
import type { ControllerPrincipal } from "../auth/controller_auth.ts";
import { grpcStatusOf } from "../errors/grpc_status.ts";
import { RelayError } from "../errors/relay_error.ts";
import type { DeviceSession } from "./device_session.ts";
import type { DeviceInfo } from "./messages.ts";
import type { Peer } from "./gatekeeper.ts";
import { isRelayOnlyMetadata } from "./grpc_call_link.ts";
import type { GrpcCallRouter } from "./grpc_call_router.ts";
import type { CallManyRequest__Output } from "../gen/relay/v1/CallManyRequest.ts";
import type { CallManyResult } from "../gen/relay/v1/CallManyResult.ts";

export type { CallManyRequest__Output as CallManyRequest, CallManyResult };

export interface CallManyOptions {
  router: GrpcCallRouter;
  /** Online sessions, for the label selector. */
  sessions: () => readonly DeviceSession[];
  /** Devices other relays of the cluster hold, for the label selector. */
  remoteDevices?: () => readonly DeviceInfo[];
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  defaultConcurrency: number;
  maxConcurrency: number;
  /** Most devices one CallMany may name or select. */
  maxTargets: number;
}

/** The results of one CallMany, as each device's call completes. */
export async function* callMany(
  principal: ControllerPrincipal,
  request: CallManyRequest__Output,
  context: CallContext,
  options: CallManyOptions,
): AsyncGenerator<CallManyResult> {
  const targets = selectTargets(principal, request, options);
  const timeoutMs = request.per_device_timeout_ms > 0
    ? Math.min(request.per_device_timeout_ms, options.maxTimeoutMs)
    : options.defaultTimeoutMs;
  const concurrency = Math.min(
    request.max_concurrency > 0
      ? request.max_concurrency
      : options.defaultConcurrency,
    options.maxConcurrency,
  );
  const metadata = request.metadata.filter((entry) =>
    !isRelayOnlyMetadata(entry.key.toLowerCase())
  );
  const call = (deviceId: string) =>
    callOne(
      principal,
      deviceId,
      {
        method: request.method,
        request: request.request,
        metadata,
        timeoutMs,
      },
      context,
      options.router,
    );
  yield* completionOrder(targets, concurrency, call, context.signal);
}

function selectTargets(
  principal: ControllerPrincipal,
  request: CallManyRequest__Output,
  options: CallManyOptions,
): string[] {
  const labels = Object.entries(request.label_selector);
  if (request.device_ids.length === 0 && labels.length === 0) {
    throw new RelayError(
      "INVALID_REQUEST",
      "CallMany needs device_ids or a label_selector",
      { source: "downstream" },
    );
  }
  const targets = new Set(request.device_ids);
  const matches = (project: string, metadata: Record<string, string>) =>
    canSee(principal, project) &&
    labels.every(([key, value]) => metadata[key] === value);
  if (labels.length > 0) {
    for (const session of options.sessions()) {
      if (matches(session.project, session.metadata)) {
        targets.add(session.deviceId);
      }
    }
    for (const device of options.remoteDevices?.() ?? []) {
      if (
        device.device_id && matches(device.project ?? "", device.metadata ?? {})
      ) {
        targets.add(device.device_id);
      }
    }
  }
  if (targets.size > options.maxTargets) {
    throw new RelayError(
      "INVALID_REQUEST",
      `CallMany reaches ${targets.size} devices, more than ${options.maxTargets}`,
      { source: "downstream" },
    );
  }
  return [...targets];
}

interface OneCall {
  method: string;
  request: Uint8Array;
  metadata: CallManyRequest__Output["metadata"];
  timeoutMs: number;
}

/** The caller of one CallMany. */
export interface CallContext {
  peer: Peer;
  signal: AbortSignal;
  /** The caller's token: calls to devices other relays hold present it there. */
  bearerToken: string;
}

/** One device's result; never throws (failures are results). */
async function callOne(
  principal: ControllerPrincipal,
  deviceId: string,
  call: OneCall,
  context: CallContext,
  router: GrpcCallRouter,
): Promise<CallManyResult> {
  const started = performance.now();
  const deadline = new AbortController();
  const onCancel = () => deadline.abort(context.signal.reason);
  context.signal.addEventListener("abort", onCancel, { once: true });
  const timer = setTimeout(() =>
    deadline.abort(
      new RelayError(
        "DEADLINE_EXCEEDED",
        `device did not answer within ${call.timeoutMs} ms`,
      ),
    ), call.timeoutMs);
  const result = (code: number, message: string, response?: Uint8Array) => ({
    device_id: deviceId,
    status_code: code,
    status_message: message,
    response: response ?? new Uint8Array(0),
    duration_ms: Math.round(performance.now() - started),
  });
  try {
    const { status, response } = await router.callOnce(
      principal,
      {
        deviceId,
        head: {
          method: call.method,
          metadata: call.metadata,
          deadline: Date.now() + call.timeoutMs,
        },
        request: call.request,
        bearerToken: context.bearerToken,
      },
      context.peer,
      deadline.signal,
    );
    return result(
      status.code,
      status.message,
      status.code === 0 ? response : undefined,
    );
  } catch (error) {
    const relayError = RelayError.from(error);
    return result(grpcStatusOf(relayError.code), relayError.message);
  } finally {
    clearTimeout(timer);
    context.signal.removeEventListener("abort", onCancel);
  }
}

/** Runs `call` on every target, `concurrency` at once, yielding results as they come. */
async function* completionOrder<T>(
  targets: readonly string[],
  concurrency: number,
  call: (target: string) => Promise<T>,
  signal: AbortSignal,
): AsyncGenerator<T> {
  const done: T[] = [];
  let wake = Promise.withResolvers<void>();
  let next = 0;
  let running = 0;
  const start = () => {
    while (running < concurrency && next < targets.length) {
      if (signal.aborted) return;
      // Finished results count against the bound until they are taken.
      if (running + done.length >= concurrency) return;
      running++;
      call(targets[next++]!).then((result) => {
        running--;
        done.push(result);
        wake.resolve();
      });
    }
  };
  let yielded = 0;
  start();
  while (yielded < targets.length && !signal.aborted) {
    if (done.length === 0) {
      await wake.promise;
      wake = Promise.withResolvers<void>();
      continue;
    }
    yielded++;
    yield done.shift()!;
    start();
  }
}
