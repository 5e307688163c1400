import assert from "node:assert/strict";
import { RelayError } from "../errors/relay_error.ts";
import { parseFlags } from "./cli_args.ts";
import {
  IDEMPOTENCY_OPTIONS,
  parseIdempotencyFlags,
} from "./device_idempotency.ts";

const limits = (...args: string[]) =>
  parseIdempotencyFlags(parseFlags(args, IDEMPOTENCY_OPTIONS));

const refused = (pattern: RegExp) => (error: unknown) =>
  error instanceof RelayError && error.code === "INVALID_REQUEST" &&
  pattern.test(error.message);

Deno.test("--idempotency-* flags become the agent's answer cache limits", () => {
  assert.deepEqual(limits(), {});
  assert.deepEqual(
    limits(
      "--idempotency-entries",
      "500",
      "--idempotency-ttl",
      "90s",
      "--idempotency-bytes",
      "1048576",
    ),
    { maxEntries: 500, ttlMs: 90_000, maxBytes: 1_048_576 },
  );
  assert.deepEqual(limits("--idempotency-entries", "0"), { maxEntries: 0 });
  assert.deepEqual(limits("--idempotency-ttl", "5m"), { ttlMs: 300_000 });
});

Deno.test("bad --idempotency-* values are refused with the flag's name", () => {
  assert.throws(
    () => limits("--idempotency-entries", "many"),
    refused(/--idempotency-entries must be a whole number/),
  );
  assert.throws(
    () => limits("--idempotency-entries", "1.5"),
    refused(/--idempotency-entries/),
  );
  assert.throws(
    () => limits("--idempotency-bytes", "0"),
    refused(/--idempotency-bytes must be a whole number of at least 1/),
  );
  assert.throws(
    () => limits("--idempotency-ttl", "0"),
    refused(/--idempotency-ttl must be more than 0/),
  );
  assert.throws(
    () => limits("--idempotency-ttl", "soon"),
    refused(/--idempotency-ttl: expected a duration/),
  );
});
