import assert from "node:assert/strict";
import { type Publication, PublishQueue } from "./publish_queue.ts";

const event = (n: number): Publication => ({
  topic: "relay/device/online",
  payload: `e${n}`,
  qos: 1,
  retain: false,
});
const presence = (device: string, payload: string): Publication => ({
  topic: `relay/device/${device}/presence`,
  payload,
  qos: 1,
  retain: true,
});

function drain(queue: PublishQueue): string[] {
  const out: string[] = [];
  for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
    out.push(String(p.payload));
  }
  return out;
}

Deno.test("a full queue drops the oldest publications and counts them", () => {
  const queue = new PublishQueue(3);
  for (let n = 1; n <= 5; n++) queue.push(event(n));
  assert.equal(queue.length, 3);
  assert.equal(queue.dropped, 2);
  assert.deepEqual(drain(queue), ["e3", "e4", "e5"]);
});

Deno.test("a retained publication replaces a queued one of the same topic", () => {
  const queue = new PublishQueue(10);
  queue.push(presence("a", "online"));
  queue.push(event(1));
  queue.push(presence("a", "suspect"));
  queue.push(presence("b", "online"));
  queue.push(presence("a", ""));
  assert.equal(queue.length, 3);
  assert.deepEqual(drain(queue), ["", "e1", "online"]);
  // Once sent, a new state is queued again.
  queue.push(presence("a", "online"));
  assert.deepEqual(drain(queue), ["online"]);
});

Deno.test("unacknowledged publications go back to the front in order", () => {
  const queue = new PublishQueue(10);
  queue.push(event(3));
  queue.push(presence("a", "new"));
  queue.requeue([event(1), presence("a", "old"), event(2)]);
  // The queued newer state of "a" wins over the re-queued older one.
  assert.deepEqual(drain(queue), ["e1", "e2", "e3", "new"]);
});

Deno.test("urgent publications go first", () => {
  const queue = new PublishQueue(10);
  queue.push(event(1));
  queue.push(presence("status", "old"));
  queue.pushFront(presence("status", "online"));
  assert.deepEqual(drain(queue), ["online", "e1"]);
});

Deno.test("the queue stays bounded over many pushes and shifts", () => {
  const queue = new PublishQueue(100);
  for (let n = 0; n < 10_000; n++) {
    queue.push(event(n));
    if (n % 3 === 1) queue.shift();
  }
  assert.equal(queue.length, 100);
  assert.equal(drain(queue).at(-1), "e9999");
});
