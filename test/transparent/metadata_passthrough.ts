// What a transparent call carries both ways, asserted once for every rig
// (one relay, or through another relay of a cluster): the device's server
// gets the caller's metadata without authorization and relay-* keys (text and
// -bin), and its headers and trailers come back.
import assert from "node:assert/strict";
import { grpc } from "./relay_grpc_client.ts";
import type { CallTarget } from "./relay_grpc_client.ts";
import type { Testsvc } from "./testsvc_client.ts";

/** Resolves with the trailers, for checks of a particular server's own. */
export async function assertMetadataPassthrough(
  svc: Testsvc,
  target: (overrides?: Partial<CallTarget>) => CallTarget,
): Promise<grpc.Metadata> {
  const binary = new Uint8Array([0, 255, 1, 2, 128]);
  const call = await svc.metadata(
    target({
      metadata: {
        "x-custom": "custom-value",
        "x-data-bin": binary,
        "relay-extra": "must not reach the device",
        "relay-trace": "neither",
      },
    }),
    {},
  ).result;
  assert.equal(call.status.code, grpc.status.OK, call.status.details);
  const entries = call.messages[0]!.entries;
  const keys = entries.map((e) => e.key);
  // Neither the caller's relay-* keys nor a hop's own (relay-forwarded).
  assert.deepEqual(
    keys.filter((k) => k === "authorization" || k.startsWith("relay-")),
    [],
    `keys the device received: ${keys.join(", ")}`,
  );
  assert.equal(
    entries.find((e) => e.key === "x-custom")?.value,
    "custom-value",
  );
  assert.deepEqual(
    [...(entries.find((e) => e.key === "x-data-bin")?.bin_value ?? [])],
    [...binary],
  );
  assert.deepEqual(call.headers?.get("x-test-header"), ["header-value"]);
  const trailers = call.status.metadata;
  assert.deepEqual(trailers.get("x-test-trailer"), ["trailer-value"]);
  return trailers;
}
