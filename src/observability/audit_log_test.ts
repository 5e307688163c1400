import assert from "node:assert/strict";
import { RelayError } from "../errors/relay_error.ts";
import {
  AuditLog,
  type AuditRecord,
  type AuditSink,
  MAX_AUDIT_FIELD_CHARS,
  NoopAuditLog,
  openAuditLog,
} from "./audit_log.ts";

const HASH = "0123456789abcdef".repeat(4);

async function readLines(path: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(path);
  assert.ok(text.endsWith("\n"), "every line is terminated");
  return text.trimEnd().split("\n").map((line) => JSON.parse(line));
}

async function withTempDir(
  body: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "audit_log_test_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const failure = (n: number): AuditRecord => ({
  event: "auth_failure",
  source: `192.0.2.1:${n}`,
  transport: "h2",
  principal: "",
  reason: "bad token",
});

Deno.test("each record is one JSON line with the documented fields", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/audit.log`;
    const log = await openAuditLog({ enabled: true, path }, {
      now: () => Date.UTC(2025, 0, 2, 3, 4, 5, 6),
    });
    log.log({
      event: "auth_success",
      source: "192.0.2.7:5000",
      transport: "quic",
      principal: "controller:alice",
      role: "operator",
      token_hash: HASH,
    });
    log.log({
      event: "rate_limited",
      source: "[2001:db8::1]:443",
      transport: "http",
      principal: "device:d1",
      device_id: "d1",
      reason: "requests.device",
      code: "RATE_LIMITED",
      role: undefined,
    });
    log.log({
      event: "access_denied",
      source: "s",
      transport: "h2",
      principal: "controller:bob",
      code: 7,
    });
    await log.close();
    assert.deepEqual(await readLines(path), [
      {
        time: "2025-01-02T03:04:05.006Z",
        event: "auth_success",
        source: "192.0.2.7:5000",
        transport: "quic",
        principal: "controller:alice",
        role: "operator",
        token_hash: HASH.slice(0, 12),
      },
      {
        time: "2025-01-02T03:04:05.006Z",
        event: "rate_limited",
        source: "[2001:db8::1]:443",
        transport: "http",
        principal: "device:d1",
        device_id: "d1",
        reason: "requests.device",
        code: "RATE_LIMITED",
      },
      {
        time: "2025-01-02T03:04:05.006Z",
        event: "access_denied",
        source: "s",
        transport: "h2",
        principal: "controller:bob",
        code: 7,
      },
    ]);
  });
});

Deno.test("payloads never reach the file; long fields are cut; raw tokens are left out", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/audit.log`;
    const log = await openAuditLog({ enabled: true, path });
    const sneaky = {
      ...failure(1),
      reason: new Uint8Array([115, 101, 99, 114, 101, 116]),
      payload: new TextEncoder().encode("secret"),
      encrypted_payload: "secret",
    } as unknown as AuditRecord;
    log.log(sneaky);
    log.log({
      ...failure(2),
      reason: "x".repeat(10_000),
      token_hash: "eyJhbGciOiJIUzI1NiJ9.e30.sig",
    });
    await log.close();
    const text = await Deno.readTextFile(path);
    assert.doesNotMatch(text, /secret|115,101/);
    const [first, second] = await readLines(path);
    assert.deepEqual(Object.keys(first!).sort(), [
      "event",
      "principal",
      "source",
      "time",
      "transport",
    ]);
    assert.equal(second!.reason, "x".repeat(MAX_AUDIT_FIELD_CHARS));
    assert.equal(second!.token_hash, undefined);
  });
});

Deno.test("the file is created 0600 and opened for append", {
  ignore: Deno.build.os === "windows",
}, async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/audit.log`;
    for (let run = 0; run < 2; run++) {
      const log = await openAuditLog({ enabled: true, path });
      log.log(failure(run));
      await log.close();
    }
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const lines = await readLines(path);
    assert.deepEqual(lines.map((l) => l.source), [
      "192.0.2.1:0",
      "192.0.2.1:1",
    ]);
  });
});

Deno.test("a full queue drops records and counts them instead of blocking", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/audit.log`;
    const log = await openAuditLog({ enabled: true, path }, { maxQueue: 100 });
    for (let i = 0; i < 150; i++) log.log(failure(i));
    assert.equal(log.dropped, 50);
    await log.flush();
    assert.equal((await readLines(path)).length, 100);
    log.log(failure(150));
    assert.equal(log.dropped, 50, "room again once written");
    await log.close();
    const sources = (await readLines(path)).map((l) => l.source);
    assert.equal(sources.length, 101);
    assert.equal(sources.at(-1), "192.0.2.1:150");
    assert.equal(sources.at(99), "192.0.2.1:99", "the first ones are kept");
  });
});

Deno.test("close writes everything queued; records after close are dropped", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/audit.log`;
    const log = await openAuditLog({ enabled: true, path });
    for (let i = 0; i < 1000; i++) log.log(failure(i));
    await Promise.all([log.close(), log.close()]);
    assert.equal((await readLines(path)).length, 1000);
    log.log(failure(1000));
    assert.equal(log.dropped, 1);
  });
});

Deno.test("a slow destination never holds up log(); failed writes are counted", async () => {
  let release = () => {};
  const written: string[] = [];
  let failNext = false;
  const sink: AuditSink = {
    async write(bytes) {
      await new Promise<void>((resolve) => release = resolve);
      if (failNext) {
        failNext = false;
        throw new Error("disk full");
      }
      // Short writes are continued by the writer.
      const n = Math.min(bytes.length, 50);
      written.push(new TextDecoder().decode(bytes.subarray(0, n)));
      return n;
    },
    close() {},
  };
  const errors: unknown[] = [];
  const log = new AuditLog(sink, {
    maxQueue: 10,
    onError: (error) => errors.push(error),
  });
  failNext = true;
  log.log(failure(0)); // its batch is in flight, waiting on the sink
  for (let i = 1; i < 20; i++) log.log(failure(i));
  assert.equal(log.dropped, 10, "9 queued behind the one in flight");
  release(); // the first batch fails
  const drained = log.flush();
  while (written.join("").split("\n").length < 10) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    release();
  }
  await drained;
  assert.equal(errors.length, 1);
  assert.equal(log.dropped, 11, "the failed batch counts as dropped");
  const lines = written.join("").trimEnd().split("\n");
  assert.deepEqual(
    lines.map((l) => JSON.parse(l).source),
    Array.from({ length: 9 }, (_, i) => `192.0.2.1:${i + 1}`),
  );
  await log.close();
});

Deno.test("'-' writes to standard output", async () => {
  const module = new URL("./audit_log.ts", import.meta.url).href;
  const script = `
    const { openAuditLog } = await import(${JSON.stringify(module)});
    const log = await openAuditLog({ enabled: true, path: "-" });
    log.log({ event: "device_connected", source: "a:1", transport: "quic",
      principal: "device:d7", device_id: "d7" });
    await log.close();
    console.log("still open");`;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout).trimEnd().split("\n");
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  assert.equal(JSON.parse(stdout[0]!).principal, "device:d7");
  assert.equal(stdout[1], "still open", "stdout is not closed");
});

Deno.test("disabled: a no-op logger that touches nothing", async () => {
  const log = await openAuditLog({
    enabled: false,
    path: "/nonexistent/dir/audit.log",
  });
  assert.ok(log instanceof NoopAuditLog);
  log.log(failure(0));
  await log.flush();
  await log.close();
  assert.equal(log.dropped, 0);
});

Deno.test("an empty or unusable path fails at start naming the key", async () => {
  await assert.rejects(
    openAuditLog({ enabled: true, path: "" }),
    (error: unknown) =>
      error instanceof RelayError && /relay\.audit\.path/.test(error.message),
  );
  await assert.rejects(
    openAuditLog({ enabled: true, path: "/nonexistent/dir/audit.log" }),
    (error: unknown) =>
      error instanceof RelayError &&
      /relay\.audit\.path.*\/nonexistent/.test(error.message),
  );
});
