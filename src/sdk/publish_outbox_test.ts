import assert from "node:assert/strict";
import { RelayError } from "../errors/relay_error.ts";
import type { DeviceMessage } from "./connector.ts";
import { PublishOutbox, type SendPublish } from "./publish_outbox.ts";

type Publish = NonNullable<DeviceMessage["publish"]>;
type Sent = Omit<Publish, "id"> & { id: number };

function connection() {
  const sent: Sent[] = [];
  const send: SendPublish = (publish: Publish) => {
    sent.push({ ...publish, id: Number(publish.id) });
    return Promise.resolve();
  };
  return { sent, send };
}

const bytes = (text: string) => new TextEncoder().encode(text);
const ok = (id: number) => ({
  id,
  error: "OK" as const,
  error_message: "",
});

Deno.test("publications wait while disconnected and go out on attach", async () => {
  const outbox = new PublishOutbox({ maxQueued: 10, maxUnacked: 10 });
  const done = outbox.publish("telemetry/d1", bytes("a"), { qos: 1 });
  const { sent, send } = connection();
  outbox.attach(send);
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.topic, "telemetry/d1");
  assert.equal(sent[0]!.qos, 1);
  outbox.acknowledge(ok(sent[0]!.id));
  await done;
  assert.deepEqual(outbox.size, { queued: 0, unacked: 0 });
});

Deno.test("unacked publications are bounded; the rest wait their turn", async () => {
  const outbox = new PublishOutbox({ maxQueued: 10, maxUnacked: 2 });
  const { sent, send } = connection();
  outbox.attach(send);
  const all = [1, 2, 3, 4].map((n) =>
    outbox.publish("telemetry/d1", bytes(String(n)))
  );
  assert.equal(sent.length, 2);
  assert.deepEqual(outbox.size, { queued: 2, unacked: 2 });
  outbox.acknowledge(ok(sent[0]!.id));
  assert.equal(sent.length, 3);
  for (const publish of sent.slice(1)) outbox.acknowledge(ok(publish.id));
  outbox.acknowledge(ok(sent[3]!.id));
  await Promise.all(all);
});

Deno.test("a full queue refuses at once", async () => {
  const outbox = new PublishOutbox({ maxQueued: 1, maxUnacked: 1 });
  const first = outbox.publish("telemetry/d1", bytes("a"));
  await assert.rejects(
    outbox.publish("telemetry/d1", bytes("b")),
    (error: RelayError) => error.code === "UNAVAILABLE",
  );
  outbox.close(new RelayError("CANCELLED", "closed"));
  await assert.rejects(
    first,
    (error: RelayError) => error.code === "CANCELLED",
  );
});

Deno.test("a refusal rejects with the relay's code and message", async () => {
  const outbox = new PublishOutbox({ maxQueued: 10, maxUnacked: 10 });
  const { sent, send } = connection();
  outbox.attach(send);
  const refused = outbox.publish("device/d2/status", bytes("x"));
  outbox.acknowledge({
    id: sent[0]!.id,
    error: "PERMISSION_DENIED",
    error_message: "not yours",
  });
  await assert.rejects(
    refused,
    (error: RelayError) =>
      error.code === "PERMISSION_DENIED" && error.message === "not yours",
  );
});

Deno.test("a lost connection rejects unacked publications and keeps queued ones", async () => {
  const outbox = new PublishOutbox({ maxQueued: 10, maxUnacked: 1 });
  const first = connection();
  outbox.attach(first.send);
  const unacked = outbox.publish("telemetry/d1", bytes("a"));
  const queued = outbox.publish("telemetry/d1", bytes("b"));
  outbox.detach(first.send);
  await assert.rejects(
    unacked,
    (error: RelayError) => error.code === "UNAVAILABLE" && error.retryable,
  );
  const second = connection();
  outbox.attach(second.send);
  assert.equal(second.sent.length, 1);
  assert.notEqual(second.sent[0]!.id, first.sent[0]!.id, "ids are not reused");
  outbox.acknowledge(ok(second.sent[0]!.id));
  await queued;
});

Deno.test("an aborted publication leaves the queue", async () => {
  const outbox = new PublishOutbox({ maxQueued: 10, maxUnacked: 10 });
  const abort = new AbortController();
  const pending = outbox.publish("telemetry/d1", bytes("a"), {
    signal: abort.signal,
  });
  abort.abort();
  await assert.rejects(
    pending,
    (error: RelayError) => error.code === "CANCELLED",
  );
  assert.deepEqual(outbox.size, { queued: 0, unacked: 0 });
  await assert.rejects(
    outbox.publish("telemetry/d1", bytes("a"), { qos: 3 as 0 }),
    (error: RelayError) => error.code === "INVALID_REQUEST",
  );
});
