import assert from "node:assert/strict";
import { HandshakeAdmission } from "./handshake_admission.ts";

Deno.test("handshakes past the bound are refused until one is released (once)", () => {
  let refused = 0;
  const admission = new HandshakeAdmission(2, () => refused++);
  const first = admission.admit();
  const second = admission.admit();
  assert.ok(first && second);
  assert.equal(admission.admit(), undefined);
  assert.equal(refused, 1);
  first();
  first();
  assert.equal(admission.pending, 1, "a second release changes nothing");
  assert.ok(admission.admit());
  assert.equal(admission.admit(), undefined);
  assert.equal(refused, 2);
});
