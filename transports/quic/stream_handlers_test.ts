import assert from "node:assert/strict";
import { StreamKind } from "../../src/gen/relay/v1/StreamKind.ts";
import { refuseUnknownStream } from "./controller_streams.ts";
import { handlerFor } from "./stream_handlers.ts";

Deno.test("every stream kind has its own handler; an unspecified or unknown kind is refused", () => {
  const kinds = Object.values(StreamKind).filter((kind) =>
    kind !== "STREAM_KIND_UNSPECIFIED"
  );
  const handlers = new Set(kinds.map(handlerFor));
  assert.equal(handlers.size, kinds.length);
  assert.ok(!handlers.has(refuseUnknownStream));
  assert.equal(handlerFor("STREAM_KIND_UNSPECIFIED"), refuseUnknownStream);
  assert.equal(handlerFor(99), refuseUnknownStream);
  assert.equal(handlerFor("constructor" as never), refuseUnknownStream);
});
