// What a DeviceAgent is given and what it reports: its options, its
// connection states and its counters (the agent itself: device_agent.ts).
import type { TrustedControllers } from "../e2e/device_sessions.ts";
import type { DeviceKeyPair } from "../e2e/device_key.ts";
import type { RelayError } from "../errors/relay_error.ts";
import type { AnswerCacheLimits } from "./answer_cache.ts";
import type { BackoffOptions } from "./backoff.ts";
import type { DeviceConnector } from "./connector.ts";
import type { GrpcTarget } from "./grpc_target.ts";

export type AgentState = "connecting" | "connected" | "disconnected" | "closed";

/** Counters since the agent was created. */
export interface AgentStats {
  /** Requests answered (successfully or with an error). */
  requestsHandled: number;
  /** Of those, answered with an error. */
  requestsFailed: number;
  /** Of those, retries answered without running the handler (cached or joined). */
  requestsDeduplicated: number;
  /** Successful registrations (first connect, reconnects, transport moves). */
  connects: number;
}

export interface AgentStateDetail {
  state: AgentState;
  connectionId: string;
  resumed: boolean;
  transport: string;
  /** Why the last connection ended or was refused. */
  error?: RelayError;
}

export interface DeviceAgentOptions {
  connector: DeviceConnector;
  deviceId: string;
  token: string;
  metadata?: Record<string, string>;
  /** Used until the relay announces its own interval. */
  heartbeatIntervalMs?: number;
  /** How long to wait for the relay's register response. */
  registerTimeoutMs?: number;
  backoff?: Partial<BackoffOptions>;
  /** Handlers running at once; further requests wait. */
  maxConcurrentHandlers?: number;
  /** How long close() waits for the relay to see the graceful end (default 1 s). */
  closeTimeoutMs?: number;
  /**
   * The device's long-lived E2E key pair, or the path of its key file
   * (created with mode 0600 when missing). Default: a new key pair per agent,
   * which controllers that pinned the previous one will refuse.
   */
  e2eKey?: DeviceKeyPair | string;
  /** Also accept requests that are not end-to-end encrypted (default false). */
  allowPlaintext?: boolean;
  /** How far a request's seal time may be from this device's clock (default 5 min). */
  e2eWindowMs?: number;
  /**
   * Accept requests only from these controller keys (fingerprint to the
   * controller ids allowed to use it, or "*"); session envelopes only, as the
   * per-request envelope does not authenticate its sender. Default: any
   * controller key. See readTrustedControllers for the file form.
   */
  trustedControllers?: TrustedControllers;
  /** Publications sent and not yet acknowledged by the relay (default 32). */
  maxUnackedPublishes?: number;
  /** Publications waiting to be sent, also while disconnected (default 100). */
  maxQueuedPublishes?: number;
  /**
   * The answer cache: a request retried with the same controller id and
   * sequence number (after a relay restart, a move to another relay, or a
   * resume) gets the first answer, and its handler does not run again.
   * Defaults: 10,000 answers, 5 min, 16 MiB; `maxEntries: 0` turns it off.
   */
  idempotency?: Partial<AnswerCacheLimits>;
  /**
   * The device's own gRPC server (see `grpcTarget()` in mod.ts): controllers
   * call its methods through the relay unchanged, with the `relay-device-id`
   * metadata naming this device. The agent forwards each call over its own
   * tunnel; closing the agent cancels them and closes the target.
   */
  grpcTarget?: GrpcTarget;
  /** Transparent calls served at once (default 256); more get RESOURCE_EXHAUSTED. */
  maxConcurrentGrpcCalls?: number;
}
