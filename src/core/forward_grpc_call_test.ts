import assert from "node:assert/strict";
import { RelayError } from "../errors/relay_error.ts";
import { forwardGrpcCall } from "./forward_grpc_call.ts";
import type {
  GrpcCallLink,
  GrpcStatus,
  MetadataEntry,
} from "./grpc_call_link.ts";
import type { GrpcClientCall } from "../wire/grpc_call_types.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

/** The caller's side: its requests, and what reached it. */
function callerLink(requests: AsyncIterable<Uint8Array>, signal: AbortSignal) {
  const got = { headers: [] as MetadataEntry[][], messages: [] as string[] };
  const link: GrpcCallLink = {
    remoteAddress: "127.0.0.1:1",
    transport: "h2",
    bearerToken: "t",
    deviceId: "dev-1",
    head: { method: "/s.S/M", metadata: [], deadline: undefined },
    messages: requests,
    signal,
    sendHeaders: (headers) => got.headers.push(headers),
    send: (message) => {
      got.messages.push(text(message));
      return Promise.resolve();
    },
    finish: () => {},
    fail: () => {},
  };
  return { link, got };
}

/** The holder's side: answers `responses` and `status` once the requests end. */
function holderCall(
  responses: string[],
  status: GrpcStatus,
  headers: MetadataEntry[] | null,
) {
  const seen = { requests: [] as string[], halfClosed: false, cancelled: 0 };
  const ended = Promise.withResolvers<void>();
  const call: GrpcClientCall = {
    headers: Promise.resolve(headers),
    messages: (async function* () {
      await ended.promise;
      for (const response of responses) yield bytes(response);
    })(),
    status: ended.promise.then(() => status),
    send: (message) => {
      seen.requests.push(text(message));
      return Promise.resolve();
    },
    halfClose: () => {
      seen.halfClosed = true;
      ended.resolve();
    },
    cancel: () => seen.cancelled++,
  };
  return { call, seen };
}

Deno.test("forwardGrpcCall copies the requests and half-close to the holder and its headers, messages and status back unchanged", async () => {
  const { link, got } = callerLink(
    (async function* () {
      yield bytes("a");
      yield bytes("b");
    })(),
    new AbortController().signal,
  );
  const status = {
    code: 9,
    message: "not now",
    trailers: [{ key: "x-t", value: bytes("v") }],
  };
  const header = [{ key: "x-h", value: bytes("h") }];
  const { call, seen } = holderCall(["r1", "r2"], status, header);
  assert.deepEqual(await forwardGrpcCall(link, call), status);
  assert.deepEqual(seen.requests, ["a", "b"]);
  assert.equal(seen.halfClosed, true);
  assert.deepEqual(got.headers, [header]);
  assert.deepEqual(got.messages, ["r1", "r2"]);
  assert.equal(seen.cancelled, 0);
});

Deno.test("forwardGrpcCall: a status without headers sends none", async () => {
  const { link, got } = callerLink(
    (async function* () {})(),
    new AbortController().signal,
  );
  const { call } = holderCall([], { code: 0, message: "", trailers: [] }, null);
  assert.equal((await forwardGrpcCall(link, call)).code, 0);
  assert.deepEqual(got.headers, []);
});

Deno.test("forwardGrpcCall: the caller going away cancels the holder's call", async () => {
  const caller = new AbortController();
  // The caller never half-closes, so the holder never answers.
  const { link } = callerLink(
    (async function* () {
      yield bytes("a");
      await new Promise(() => {});
    })(),
    caller.signal,
  );
  const { call, seen } = holderCall(
    [],
    { code: 0, message: "", trailers: [] },
    [
      { key: "x-h", value: bytes("h") },
    ],
  );
  const forwarded = forwardGrpcCall(link, call);
  caller.abort(new RelayError("DEADLINE_EXCEEDED", "the caller's deadline"));
  await assert.rejects(
    forwarded,
    (error) =>
      error instanceof RelayError && error.code === "DEADLINE_EXCEEDED",
  );
  assert.equal(seen.cancelled, 1);
});
