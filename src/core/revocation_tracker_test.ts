import assert from "node:assert/strict";
import { RelayError } from "../errors/relay_error.ts";
import {
  type ClosableStream,
  RevocationTracker,
} from "./revocation_tracker.ts";

const REVOKED = new RelayError("UNAUTHORIZED", "controller token revoked");

/** A stream that records the errors it was closed with. */
function stream(): ClosableStream & { closes: (RelayError | undefined)[] } {
  const closes: (RelayError | undefined)[] = [];
  return { closes, close: (error) => closes.push(error) };
}

const alice = { tokenHash: "a".repeat(64), jti: "alice-1" };
const bob = { tokenHash: "b".repeat(64), jti: "" };

Deno.test("revoking a token closes the streams that used it, by hash or by jti", () => {
  const tracker = new RevocationTracker();
  const first = stream();
  const second = stream();
  const other = stream();
  tracker.track(alice, first);
  tracker.track(alice, second);
  tracker.track(bob, other);
  assert.equal(tracker.closeJti("alice-1", REVOKED), 2);
  assert.deepEqual(first.closes, [REVOKED]);
  assert.deepEqual(second.closes, [REVOKED]);
  assert.equal(tracker.closeToken(alice.tokenHash, REVOKED), 2);
  assert.deepEqual(other.closes, []);
  assert.equal(tracker.closeToken(bob.tokenHash, REVOKED), 1);
  assert.deepEqual(other.closes, [REVOKED]);
  // Nothing matches an unknown token, an empty jti or a hash given as a jti.
  assert.equal(tracker.closeToken("c".repeat(64), REVOKED), 0);
  assert.equal(tracker.closeJti("", REVOKED), 0);
  assert.equal(tracker.closeJti(alice.tokenHash, REVOKED), 0);
});

Deno.test("a stream that used several tokens is closed by revoking any of them", () => {
  const tracker = new RevocationTracker();
  const shared = stream();
  tracker.track(alice, shared);
  tracker.track(bob, shared);
  tracker.track(bob, shared);
  assert.equal(tracker.size, 1);
  assert.equal(tracker.closeToken(bob.tokenHash, REVOKED), 1);
  assert.equal(tracker.closeJti("alice-1", REVOKED), 1);
  assert.equal(shared.closes.length, 2);
});

Deno.test("an ended stream is forgotten under every credential", () => {
  const tracker = new RevocationTracker();
  const ended = stream();
  const open = stream();
  tracker.track(alice, ended);
  tracker.track(bob, ended);
  tracker.track(alice, open);
  tracker.untrack(ended);
  tracker.untrack(ended); // twice is harmless
  assert.equal(tracker.size, 1);
  assert.equal(tracker.closeToken(bob.tokenHash, REVOKED), 0);
  assert.equal(tracker.closeToken(alice.tokenHash, REVOKED), 1);
  assert.deepEqual(ended.closes, []);
  tracker.untrack(open);
  assert.equal(tracker.size, 0);
});

Deno.test("closeAll closes each open stream once", () => {
  const tracker = new RevocationTracker();
  const streams = [stream(), stream()];
  tracker.track(alice, streams[0]!);
  tracker.track(bob, streams[0]!);
  tracker.track(bob, streams[1]!);
  const closing = new RelayError("UNAVAILABLE", "relay is shutting down");
  tracker.closeAll(closing);
  assert.deepEqual(streams.map((s) => s.closes), [[closing], [closing]]);
});
