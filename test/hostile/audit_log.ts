// The relay's audit log: JSON lines in <stateDir>/audit.log (events
// auth_success, auth_failure, access_denied, token_revoked, rate_limited,
// device_connected, device_disconnected, connection_refused).
import assert from "node:assert/strict";
import type { TestRelay } from "../harness.ts";

export interface AuditEvent {
  time: string;
  event: string;
  source: string;
  transport: string;
  principal: string;
  reason: string;
  code: string;
  [field: string]: unknown;
}

export const auditPath = (t: TestRelay): string => `${t.stateDir}/audit.log`;

/** The raw lines of the audit log ([] while it does not exist). */
export async function auditLines(t: TestRelay): Promise<string[]> {
  try {
    const text = await Deno.readTextFile(auditPath(t));
    return text.split("\n").filter((line) => line.trim() !== "");
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

export async function auditEvents(t: TestRelay): Promise<AuditEvent[]> {
  return (await auditLines(t)).map((line, index) => {
    try {
      return JSON.parse(line) as AuditEvent;
    } catch {
      throw new Error(`audit.log line ${index + 1} is not JSON: ${line}`);
    }
  });
}

/**
 * Waits (bounded) for an audit event of type `event` whose fields match
 * `fields` (strings compare equal, regular expressions must match).
 */
export async function expectAudit(
  t: TestRelay,
  event: string,
  fields: Record<string, string | RegExp> = {},
  timeoutMs = 1000,
): Promise<AuditEvent> {
  const deadline = Date.now() + timeoutMs;
  const matches = (candidate: AuditEvent) =>
    candidate.event === event &&
    Object.entries(fields).every(([key, expected]) => {
      const raw = candidate[key];
      const actual = typeof raw === "number" ? String(raw) : raw;
      return typeof expected === "string"
        ? actual === expected
        : typeof actual === "string" && expected.test(actual);
    });
  for (;;) {
    const events = await auditEvents(t);
    const found = events.find(matches);
    if (found !== undefined) return found;
    if (Date.now() > deadline) {
      const seen = events.length === 0
        ? `${auditPath(t)} is missing or empty`
        : `events seen: ${
          events.map((e) => `${e.event}(${e.code ?? ""})`).join(", ")
        }`;
      assert.fail(
        `no audit event ${event} with ${
          JSON.stringify(fields, (_k, v) => v instanceof RegExp ? String(v) : v)
        } within ${timeoutMs} ms; ${seen}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Matches the principal field for an id, bare or typed ("device:<id>",
 * "controller:<sub>").
 */
export function principal(id: string): RegExp {
  const escaped = id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^((device|controller):)?${escaped}$`);
}

/** Every audit record carries the documented fields. */
export function assertAuditShape(record: AuditEvent): void {
  for (const field of ["time", "event", "source", "transport", "principal"]) {
    assert.equal(
      typeof record[field],
      "string",
      `audit field ${field} in ${JSON.stringify(record)}`,
    );
  }
  assert.ok(
    !Number.isNaN(Date.parse(record.time)),
    `audit time ${record.time} is a timestamp`,
  );
}

/**
 * Every line is a JSON record with the documented fields, and no line
 * contains any of `secrets` (tokens, credentials, payloads).
 */
export async function assertAuditClean(
  t: TestRelay,
  secrets: Record<string, string>,
): Promise<void> {
  for (const record of await auditEvents(t)) assertAuditShape(record);
  await assertAuditHasNone(t, secrets);
}

/** No audit line contains any of `secrets` (tokens, credentials, payloads). */
export async function assertAuditHasNone(
  t: TestRelay,
  secrets: Record<string, string>,
): Promise<void> {
  const lines = await auditLines(t);
  for (const [what, secret] of Object.entries(secrets)) {
    const leaking = lines.find((line) => line.includes(secret));
    assert.equal(leaking, undefined, `audit.log contains the ${what}`);
  }
}
