// Structured logger: one line per event on stderr. Callers pass metadata only;
// payloads and secrets are never logged. A line written inside a span (traces
// on) carries its trace_id.
import { activeTraceId } from "./tracing.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, string | number | boolean | undefined>;

const RANK: Record<LogLevel, number> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
};

export interface LoggerOptions {
  level?: LogLevel;
  format?: "json" | "text";
  /** Where lines go; defaults to stderr. Tests inject a collector. */
  write?: (line: string) => void;
  fields?: LogFields;
}

export class Logger {
  readonly #minRank: number;
  readonly #format: "json" | "text";
  readonly #write: (line: string) => void;
  readonly #fields: LogFields;

  constructor(options: LoggerOptions = {}) {
    this.#minRank = RANK[options.level ?? "info"];
    this.#format = options.format ?? "json";
    this.#write = options.write ?? writeStderr;
    this.#fields = options.fields ?? {};
  }

  /** A logger that adds fixed fields (component, device id, ...) to every line. */
  child(fields: LogFields): Logger {
    return new Logger({
      level: this.level,
      format: this.#format,
      write: this.#write,
      fields: { ...this.#fields, ...fields },
    });
  }

  get level(): LogLevel {
    return (Object.keys(RANK) as LogLevel[]).find((l) =>
      RANK[l] === this.#minRank
    ) ?? "info";
  }

  debug(msg: string, fields?: LogFields): void {
    this.#log("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.#log("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.#log("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.#log("error", msg, fields);
  }

  #log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (RANK[level] < this.#minRank) return;
    const record = {
      ts: new Date().toISOString(),
      level,
      msg,
      ...this.#fields,
      ...fields,
      trace_id: activeTraceId(),
    };
    if (this.#format === "json") {
      this.#write(JSON.stringify(record));
      return;
    }
    const { ts: _ts, level: _level, msg: _msg, ...extraFields } = record;
    const extras = Object.entries(extraFields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
    this.#write(
      `${record.ts} ${level.toUpperCase()} ${msg}${extras ? " " + extras : ""}`,
    );
  }
}

const encoder = new TextEncoder();
function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}
