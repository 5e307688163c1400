// 4 MiB messages both ways through a transparent call (relay max message
// size raised to 8 MiB by relay.request.max_payload_bytes).
import assert from "node:assert/strict";
import { SystemTools } from "../system_tools.ts";
import { grpc } from "./relay_grpc_client.ts";
import { PYTHON_GRPC, pythonServer, rigTest } from "./transparent_rig.ts";

const tools = await SystemTools.check(PYTHON_GRPC);
const MIB = 1024 * 1024;
const CONFIG = { "relay.request.max_payload_bytes": 8 * MIB };

/** Bytes that differ along the message (a truncation or reordering shows). */
function pattern(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed + (i >> 12)) & 0xff;
  return bytes;
}

function assertSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  assert.equal(actual.byteLength, expected.byteLength);
  assert.ok(
    actual.every((byte, i) => byte === expected[i]),
    "payload changed on the way",
  );
}

rigTest(
  "transparent calls: 4 MiB messages both ways, unary and bidi",
  pythonServer(tools, CONFIG),
  async ({ svc, target }) => {
    const big = pattern(4 * MIB, 1);
    const unary = await svc.unary(target(), { text: "big", payload: big })
      .result;
    assert.equal(unary.status.code, grpc.status.OK, unary.status.details);
    assertSameBytes(unary.messages[0]!.payload, big);

    const bidi = svc.bidi(target());
    const sent = [pattern(4 * MIB, 2), pattern(4 * MIB, 3)];
    for (const payload of sent) bidi.write({ text: "big", payload });
    bidi.end();
    const echoed = await bidi.result;
    assert.equal(echoed.status.code, grpc.status.OK, echoed.status.details);
    assert.equal(echoed.messages.length, sent.length);
    echoed.messages.forEach((m, i) => assertSameBytes(m.payload, sent[i]!));
  },
);
