// The device agent's idempotency cache: the answer to each recent request,
// keyed by (controller id, sequence number). The relay's own cache dies with
// the relay, so a retry after a relay crash or a move to another relay (or a
// request the relay re-sends after a resume) would run the handler again; it
// is answered from here instead, and a duplicate that arrives while the first
// still runs joins it. A key reused for a different request is refused.
//
// Answers are plaintext (the agent seals each for the envelope that asked),
// error answers included. Expiry, the bounds and joining are ExpiringStore's.
import { createHash } from "node:crypto";
import { type ErrorCode, RelayError } from "../errors/relay_error.ts";
import {
  ExpiringStore,
  type ExpiringStoreLimits,
  type Retained,
  type RunSource,
} from "../limits/expiring_store.ts";

/** What a handler's run produced: its bytes, or its error. */
export interface Answer {
  /** Plaintext response bytes (empty with an error). */
  payload: Uint8Array;
  error: ErrorCode;
  errorMessage: string;
}

/** Answers kept (0 turns the cache off), how long, and their payload bytes. */
export type AnswerCacheLimits = ExpiringStoreLimits;

export const DEFAULT_ANSWER_CACHE_LIMITS: Readonly<AnswerCacheLimits> = Object
  .freeze({
    maxEntries: 10_000,
    ttlMs: 5 * 60_000,
    maxBytes: 16 * 1024 * 1024,
  });

export interface AnswerCacheOptions extends AnswerCacheLimits {
  now?: () => number;
}

export type AnswerSource = RunSource;

export class AnswerCache extends ExpiringStore<Answer> {
  /** Throws RangeError on a limit that is not a number >= 0. */
  constructor(options: AnswerCacheOptions) {
    super({ ...options, retain: ownPayload, conflict: sequenceNumberReused });
  }

  static key(controllerId: string, sequenceNumber: number): string {
    return `${controllerId}\u0000${sequenceNumber}`;
  }

  /**
   * Runs `execute` once per key: a duplicate with the same `fingerprint` gets
   * the kept answer, or joins the run in progress. A rejected `execute` (the
   * request was refused or interrupted) is not kept: its duplicates waiting
   * get the same rejection, later ones run again. Throws RelayError
   * INVALID_REQUEST when the key belongs to a request with another fingerprint.
   */
  async run(
    key: string,
    fingerprint: string,
    execute: () => Promise<Answer>,
  ): Promise<{ answer: Answer; source: AnswerSource }> {
    const { value, source } = await this.runOnce(key, fingerprint, execute);
    return { answer: value, source };
  }
}

/**
 * What identifies a request's content for the cache: method, whether it came
 * end-to-end encrypted, and a digest of its (opened) payload. An E2E retry
 * carries a new envelope, so the plaintext is compared, not the bytes sent.
 */
export function requestFingerprint(
  method: string,
  payload: Uint8Array,
  encrypted: boolean,
): string {
  const digest = createHash("sha256").update(payload).digest("base64url");
  return `${method}\u0000${encrypted ? "e2e" : "plain"}\u0000${digest}`;
}

/** Every answer is kept, in a buffer of its own: a view into a received frame would keep the frame alive. */
function ownPayload(answer: Answer): Retained<Answer> {
  const payload = answer.payload.slice();
  return { value: { ...answer, payload }, bytes: payload.byteLength };
}

function sequenceNumberReused(): RelayError {
  return new RelayError(
    "INVALID_REQUEST",
    "sequence number already used for a different request (method or payload differ); use a new sequence number",
    { source: "downstream" },
  );
}
