// Open controller streams by the credentials they used (the token's SHA-256
// and its jti), so that revoking a credential closes every stream that used
// it, and shutdown can close them all. A stream may use several tokens (one
// per message); it is tracked under each until it ends.
import type { RelayError } from "../errors/relay_error.ts";

/** A controller principal's credential, as revocation names it. */
export interface TrackedCredential {
  /** SHA-256 hex of the token. */
  readonly tokenHash: string;
  /** The token's `jti` claim, "" when it has none. */
  readonly jti: string;
}

/** What the tracker needs of a stream: a way to end it. */
export interface ClosableStream {
  close(error?: RelayError): void;
}

export class RevocationTracker {
  readonly #streamsByKey = new Map<string, Set<ClosableStream>>();
  readonly #keysByStream = new Map<ClosableStream, Set<string>>();

  /** Open streams (each once). */
  get size(): number {
    return this.#keysByStream.size;
  }

  /** Records that `stream` used `credential`. */
  track(credential: TrackedCredential, stream: ClosableStream): void {
    this.#add(tokenKey(credential.tokenHash), stream);
    if (credential.jti !== "") this.#add(jtiKey(credential.jti), stream);
  }

  /** Forgets `stream` (it ended). */
  untrack(stream: ClosableStream): void {
    for (const key of this.#keysByStream.get(stream) ?? []) {
      const streams = this.#streamsByKey.get(key);
      streams?.delete(stream);
      if (streams?.size === 0) this.#streamsByKey.delete(key);
    }
    this.#keysByStream.delete(stream);
  }

  /** Closes every open stream that used the token with SHA-256 `tokenHash`; returns how many. */
  closeToken(tokenHash: string, error: RelayError): number {
    return this.#close(tokenKey(tokenHash), error);
  }

  /** Closes every open stream that used a token with this `jti`; returns how many. */
  closeJti(jti: string, error: RelayError): number {
    return this.#close(jtiKey(jti), error);
  }

  /** Closes every open stream (shutdown). */
  closeAll(error: RelayError): void {
    for (const stream of [...this.#keysByStream.keys()]) stream.close(error);
  }

  #add(key: string, stream: ClosableStream): void {
    let streams = this.#streamsByKey.get(key);
    if (streams === undefined) this.#streamsByKey.set(key, streams = new Set());
    streams.add(stream);
    let keys = this.#keysByStream.get(stream);
    if (keys === undefined) this.#keysByStream.set(stream, keys = new Set());
    keys.add(key);
  }

  #close(key: string, error: RelayError): number {
    const streams = [...(this.#streamsByKey.get(key) ?? [])];
    for (const stream of streams) stream.close(error);
    return streams.length;
  }
}

function tokenKey(tokenHash: string): string {
  return `sha256:${tokenHash}`;
}

function jtiKey(jti: string): string {
  return `jti:${jti}`;
}
