// `relay device --idempotency-*`: the bounds of the agent's answer cache,
// which answers a retried request (same controller, same sequence number)
// without running the handler again.
import { RelayError } from "../errors/relay_error.ts";
import {
  type AnswerCacheLimits,
  DEFAULT_ANSWER_CACHE_LIMITS,
} from "../sdk/answer_cache.ts";
import {
  type Options,
  type Parsed,
  parseDuration,
  stringFlag,
} from "./cli_args.ts";

export const IDEMPOTENCY_OPTIONS: Options = {
  "idempotency-entries": { type: "string" },
  "idempotency-ttl": { type: "string" },
  "idempotency-bytes": { type: "string" },
};

const { maxEntries, ttlMs, maxBytes } = DEFAULT_ANSWER_CACHE_LIMITS;
const ttlMinutes = ttlMs / 60_000;

export const IDEMPOTENCY_USAGE = `  --idempotency-entries N
                         answers kept, so a retry with the same sequence number is answered
                         without running the handler again (default ${maxEntries}; 0: off)
  --idempotency-ttl D    how long an answer is kept (default ${ttlMinutes}m)
  --idempotency-bytes N  payload bytes of the answers kept (default ${maxBytes})`;

/** The limits given on the command line (the agent's defaults for the rest). */
export function parseIdempotencyFlags(
  parsed: Parsed,
): Partial<AnswerCacheLimits> {
  const entries = stringFlag(parsed, "idempotency-entries");
  const ttl = stringFlag(parsed, "idempotency-ttl");
  const bytes = stringFlag(parsed, "idempotency-bytes");
  const limits: Partial<AnswerCacheLimits> = {};
  if (entries !== undefined) {
    limits.maxEntries = wholeNumber(entries, "idempotency-entries", 0);
  }
  if (ttl !== undefined) {
    limits.ttlMs = parseDuration(ttl, "idempotency-ttl");
    if (limits.ttlMs <= 0) {
      throw new RelayError(
        "INVALID_REQUEST",
        "--idempotency-ttl must be more than 0 (--idempotency-entries 0 turns the cache off)",
      );
    }
  }
  if (bytes !== undefined) {
    limits.maxBytes = wholeNumber(bytes, "idempotency-bytes", 1);
  }
  return limits;
}

function wholeNumber(value: string, flag: string, minimum: number): number {
  const number = Number(value);
  if (
    !/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < minimum
  ) {
    throw new RelayError(
      "INVALID_REQUEST",
      `--${flag} must be a whole number of at least ${minimum}, got "${value}"`,
    );
  }
  return number;
}
