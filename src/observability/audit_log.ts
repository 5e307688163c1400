// Security audit log: one JSON line per authentication, authorization,
// revocation, rate-limit and device connection event (config relay.audit).
// `log` never blocks or throws: records go to a bounded in-memory queue that
// is written to the file asynchronously; when the queue is full the record is
// dropped and counted, because stalling the relay on a slow disk is worse
// than a gap in the log. Records carry metadata only: the record type has no
// byte fields, and only the known fields are copied out at run time, so a
// payload passed by mistake is never written.
import { activeTraceId } from "./tracing.ts";
import { RelayError } from "../errors/relay_error.ts";

export type AuditEvent =
  | "auth_success"
  | "auth_failure"
  | "access_denied"
  | "token_revoked"
  | "rate_limited"
  | "device_connected"
  | "device_disconnected"
  | "connection_refused";

export type AuditTransport = "h2" | "quic" | "http";

/** Who acted: "device:<id>", "controller:<sub>", or "" before authentication. */
export type AuditPrincipal = `device:${string}` | `controller:${string}` | "";

export interface AuditRecord {
  readonly event: AuditEvent;
  /** Remote address of the peer. */
  readonly source: string;
  readonly transport: AuditTransport;
  readonly principal: AuditPrincipal;
  readonly role?: string | undefined;
  readonly device_id?: string | undefined;
  readonly reason?: string | undefined;
  /** Error code (RelayError code or a gRPC status number). */
  readonly code?: string | number | undefined;
  /** hashToken() of the credential; only its first 12 hex characters are written. */
  readonly token_hash?: string | undefined;
}

export interface AuditLogger {
  /** Queues one record; never blocks, never throws. */
  log(record: AuditRecord): void;
  /** Records lost: queue full, written after close, or failed writes (for a metric). */
  readonly dropped: number;
  /** Resolves once everything queued so far is written. */
  flush(): Promise<void>;
  /** Writes what is queued, then closes the destination. */
  close(): Promise<void>;
}

/** Where lines go: an append-mode file or standard output. */
export interface AuditSink {
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
}

export interface AuditLogOptions {
  /** Records held in memory (queued or being written) before new ones are dropped. */
  maxQueue?: number;
  /** Wall-clock milliseconds for the `time` field. */
  now?: () => number;
  /** A failed write (disk full, file removed); defaults to a line on stderr. */
  onError?: (error: unknown) => void;
}

export const DEFAULT_AUDIT_QUEUE = 4096;
/** Longest string field written; longer values are cut. */
export const MAX_AUDIT_FIELD_CHARS = 256;
const TOKEN_HASH_CHARS = 12;
const OPTIONAL_FIELDS = ["role", "device_id", "reason", "code"] as const;

const encoder = new TextEncoder();

export class AuditLog implements AuditLogger {
  readonly #sink: AuditSink;
  readonly #maxQueue: number;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  #queue: string[] = [];
  #writing = 0;
  #draining: Promise<void> | undefined;
  #dropped = 0;
  #closing: Promise<void> | undefined;

  constructor(sink: AuditSink, options: AuditLogOptions = {}) {
    this.#sink = sink;
    this.#maxQueue = options.maxQueue ?? DEFAULT_AUDIT_QUEUE;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? reportToStderr;
  }

  get dropped(): number {
    return this.#dropped;
  }

  log(record: AuditRecord): void {
    if (
      this.#closing !== undefined ||
      this.#queue.length + this.#writing >= this.#maxQueue
    ) {
      this.#dropped++;
      return;
    }
    this.#queue.push(JSON.stringify(toLine(record, this.#now())));
    this.#draining ??= this.#drain();
  }

  async flush(): Promise<void> {
    while (this.#draining !== undefined) await this.#draining;
  }

  close(): Promise<void> {
    this.#closing ??= this.flush().then(() => {
      try {
        this.#sink.close();
      } catch (error) {
        this.#onError(error);
      }
    });
    return this.#closing;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        this.#writing = batch.length;
        try {
          await writeAll(this.#sink, encoder.encode(batch.join("\n") + "\n"));
        } catch (error) {
          this.#dropped += batch.length;
          this.#onError(error);
        } finally {
          this.#writing = 0;
        }
      }
    } finally {
      this.#draining = undefined;
    }
  }
}

/** The logger for `relay.audit.enabled: false`. */
export class NoopAuditLog implements AuditLogger {
  readonly dropped = 0;
  log(_record: AuditRecord): void {}
  flush(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

export interface AuditDestination {
  enabled: boolean;
  /** A file path (opened for append, created 0600) or "-" for standard output. */
  path: string;
}

/**
 * Opens the audit log of config relay.audit; the caller resolves an empty
 * path to <state_dir>/audit.log first.
 */
export async function openAuditLog(
  destination: AuditDestination,
  options: AuditLogOptions = {},
): Promise<AuditLogger> {
  if (!destination.enabled) return new NoopAuditLog();
  if (destination.path === "-") return new AuditLog(stdoutSink(), options);
  if (destination.path === "") {
    throw new RelayError(
      "INTERNAL_ERROR",
      "relay.audit.path: empty (resolve the default <state_dir>/audit.log first)",
    );
  }
  try {
    const file = await Deno.open(destination.path, {
      append: true,
      create: true,
      mode: 0o600,
    });
    return new AuditLog(file, options);
  } catch (error) {
    throw new RelayError(
      "INTERNAL_ERROR",
      `relay.audit.path: cannot open ${destination.path}: ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
}

type Line = Record<string, string | number>;

function toLine(record: AuditRecord, now: number): Line {
  const line: Line = {
    time: new Date(now).toISOString(),
    event: text(record.event) ?? "",
    source: text(record.source) ?? "",
    transport: text(record.transport) ?? "",
    principal: text(record.principal) ?? "",
  };
  for (const key of OPTIONAL_FIELDS) {
    const value = key === "code" ? scalar(record.code) : text(record[key]);
    if (value !== undefined) line[key] = value;
  }
  const hash = text(record.token_hash)?.slice(0, TOKEN_HASH_CHARS);
  // Hex only: a raw token passed by mistake is left out rather than cut.
  if (hash !== undefined && /^[0-9a-f]+$/i.test(hash)) {
    line.token_hash = hash.toLowerCase();
  }
  // Written inside a request's span (traces on): the trace it belongs to.
  const traceId = activeTraceId();
  if (traceId !== undefined) line.trace_id = traceId;
  return line;
}

/** Strings only, cut to the field limit; anything else (bytes included) is left out. */
function text(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  return value.length > MAX_AUDIT_FIELD_CHARS
    ? value.slice(0, MAX_AUDIT_FIELD_CHARS)
    : value;
}

function scalar(value: unknown): string | number | undefined {
  return typeof value === "number" && Number.isFinite(value)
    ? value
    : text(value);
}

async function writeAll(sink: AuditSink, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await sink.write(bytes.subarray(offset));
  }
}

function stdoutSink(): AuditSink {
  return {
    write: (bytes) => Deno.stdout.write(bytes),
    // Standard output belongs to the process, not to the audit log.
    close: () => {},
  };
}

function reportToStderr(error: unknown): void {
  console.error(
    `audit log write failed: ${
      error instanceof Error ? error.message : String(error)
    }`,
  );
}
