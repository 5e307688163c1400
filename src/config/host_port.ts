// The one address parser: "host:port", "[v6]:port" (an IPv6 address always
// goes in brackets) and, where a default port applies, "host" or "[v6]".
// Config keys, CLI flags, listeners and dialers all read addresses here.
import { RelayError } from "../errors/relay_error.ts";

export interface HostPort {
  /** Host name or IP address, IPv6 without brackets. */
  host: string;
  /** 0 to 65535 (0: any free port, when binding). */
  port: number;
}

export interface ParseHostPortOptions {
  /** The port of a text without one; without it, a port is required. */
  defaultPort?: number;
  /** What the text is, named in the error: "--mqtt-listen", "config key relay.address". */
  what?: string;
}

const MAX_PORT = 65535;
/** A bracketed host or one without colons, then an optional ":port". */
const SHAPE = /^(?:\[([^[\]\s]+)\]|([^:[\]\s]+))(?::(\d+))?$/;

/** Host and port of `text`; throws INVALID_REQUEST naming `text` when it is no address. */
export function parseHostPort(
  text: string,
  options: ParseHostPortOptions = {},
): HostPort {
  const parsed = split(text, options.defaultPort);
  if (typeof parsed !== "string") return parsed;
  const what = options.what === undefined ? "" : `${options.what}: `;
  throw new RelayError(
    "INVALID_REQUEST",
    `${what}${parsed}, got ${JSON.stringify(text)}`,
  );
}

/** Why `text` is no address (as parseHostPort would refuse it), or undefined when it is one. */
export function hostPortProblem(
  text: string,
  options: Pick<ParseHostPortOptions, "defaultPort"> = {},
): string | undefined {
  const parsed = split(text, options.defaultPort);
  return typeof parsed === "string" ? parsed : undefined;
}

/** "host:port", with an IPv6 host in brackets. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[")
    ? `[${host}]:${port}`
    : `${host}:${port}`;
}

/**
 * The host of an address that may or may not carry a port ("host:port",
 * "[v6]:port", "[v6]", "host", or a bare IPv6 address such as a socket's
 * remote address); never throws: text that is no address comes back as is.
 */
export function hostOf(address: string): string {
  const parsed = split(address, 0);
  return typeof parsed === "string" ? address : parsed.host;
}

/** The wildcard addresses a listener binds to for every interface. */
export function isUnspecifiedHost(host: string): boolean {
  return host === "0.0.0.0" || host === "::";
}

function split(text: string, defaultPort?: number): HostPort | string {
  const match = SHAPE.exec(text);
  if (match === null) {
    return /^[^[\]]*:[^[\]]*:/.test(text)
      ? "expected host:port, with an IPv6 address in brackets ([::1]:50051)"
      : "expected host:port";
  }
  const [, bracketed, plain, digits] = match;
  if (bracketed !== undefined && !bracketed.includes(":")) {
    return "expected host:port, brackets only around an IPv6 address";
  }
  if (digits === undefined) {
    return defaultPort === undefined ? "expected host:port" : {
      host: (bracketed ?? plain)!,
      port: defaultPort,
    };
  }
  const port = Number(digits);
  if (port > MAX_PORT) return `port ${port} is out of range (0 to ${MAX_PORT})`;
  return { host: (bracketed ?? plain)!, port };
}
