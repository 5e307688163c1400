import assert from "node:assert/strict";
import { buildConfig } from "../config/load_config.ts";
import { Gatekeeper } from "../core/gatekeeper.ts";
import { RelayError } from "../errors/relay_error.ts";
import { openAuditLog } from "../observability/audit_log.ts";
import { Logger } from "../observability/logger.ts";
import { RelayMetrics } from "../observability/relay_metrics.ts";
import type { TunnelLink } from "../core/links.ts";
import type { TunnelFrame, TunnelFrame__Output } from "../core/messages.ts";
import {
  type TunnelHandler,
  TunnelService,
  type TunnelServiceOptions,
} from "./tunnel_service.ts";

const CREDENTIAL = "rdc_test";

/** An in-memory tunnel link: frames pushed by the test, frames the relay sent. */
function memoryLink() {
  const aborter = new AbortController();
  const inbound: TunnelFrame__Output[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  const sent: TunnelFrame[] = [];
  const closed = Promise.withResolvers<RelayError | undefined>();
  const link: TunnelLink = {
    transport: "h2",
    remoteAddress: "192.0.2.1:4000",
    signal: aborter.signal,
    messages: {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const frame = inbound.shift();
          if (frame !== undefined) {
            yield frame;
            continue;
          }
          if (ended) return;
          await new Promise<void>((resolve) => wake = resolve);
        }
      },
    },
    send(frame) {
      sent.push(frame);
      return Promise.resolve();
    },
    close(error) {
      closed.resolve(error);
      aborter.abort(error ?? new RelayError("CANCELLED", "closed"));
    },
  };
  return {
    link,
    sent,
    closed: closed.promise,
    push(frame: TunnelFrame__Output) {
      inbound.push(frame);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
  };
}

function open(deviceId: string, token = CREDENTIAL): TunnelFrame__Output {
  return {
    frame: "open",
    open: { device_id: deviceId, token, kind: "MQTT", call_id: "" },
  };
}

async function service(
  handler: TunnelHandler,
  options: Partial<TunnelServiceOptions> = {},
): Promise<TunnelService> {
  const config = buildConfig({}, {}, {});
  const metrics = new RelayMetrics();
  const logger = new Logger({ write: () => undefined });
  const gate = new Gatekeeper({
    config,
    audit: await openAuditLog({ enabled: false, path: "" }),
    metrics,
    logger,
  });
  const tunnels = new TunnelService({
    gate,
    verifyCredential: (deviceId, credential) =>
      credential === CREDENTIAL
        ? { deviceId, project: "default", createdAt: 0, revokedAt: null }
        : undefined,
    metrics,
    logger,
    handshakeTimeoutMs: 1000,
    isDraining: () => false,
    ...options,
  });
  tunnels.register("MQTT", handler);
  return tunnels;
}

/** A handler that keeps its tunnel open until the tunnel ends. */
const holdOpen: TunnelHandler = (tunnel) =>
  new Promise((resolve) =>
    tunnel.signal.addEventListener("abort", () => resolve(), { once: true })
  );

/** The code the service closed the link with (the adapter writes it as an `error` frame). */
function closeCode(
  link: ReturnType<typeof memoryLink>,
): Promise<string | undefined> {
  return link.closed.then((error) => error?.code);
}

Deno.test("a device has at most maxTunnelsPerDevice tunnels; revocation closes them", async () => {
  const tunnels = await service(holdOpen, { maxTunnelsPerDevice: 2 });
  const links = [memoryLink(), memoryLink(), memoryLink()];
  const served = links.map((l) => tunnels.accept(l.link));
  for (const l of links) l.push(open("dev-1"));
  assert.equal(await closeCode(links[2]!), "RATE_LIMITED");
  assert.equal(tunnels.size, 2);
  // Another device is not affected.
  const other = memoryLink();
  const otherServed = tunnels.accept(other.link);
  other.push(open("dev-2"));
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(tunnels.size, 3);

  const revoked = new RelayError("UNAUTHORIZED", "device credential revoked");
  assert.equal(tunnels.closeDevice("dev-1", revoked), 2);
  await Promise.all(served);
  for (const l of links.slice(0, 2)) {
    assert.equal(await closeCode(l), "UNAUTHORIZED");
  }
  assert.equal(tunnels.size, 1);
  await tunnels.closeAll(
    new RelayError("UNAVAILABLE", "relay is shutting down"),
  );
  await otherServed;
  assert.equal(await closeCode(other), "UNAVAILABLE");
  assert.equal(tunnels.size, 0);
});

Deno.test("a handler's failure closes its tunnel with that error; a clean end without", async () => {
  let fail = true;
  const tunnels = await service(() => {
    if (fail) {
      return Promise.reject(new RelayError("UNAVAILABLE", "broker down"));
    }
    return Promise.resolve();
  });
  const failing = memoryLink();
  const done = tunnels.accept(failing.link);
  failing.push(open("dev-1"));
  await done;
  const failure = await failing.closed;
  assert.deepEqual([failure?.code, failure?.message], [
    "UNAVAILABLE",
    "broker down",
  ]);
  assert.deepEqual(failing.sent, [], "the error frame is the adapter's");
  fail = false;
  const clean = memoryLink();
  const cleanDone = tunnels.accept(clean.link);
  clean.push(open("dev-1"));
  await cleanDone;
  assert.deepEqual(clean.sent, []);
  assert.equal(await clean.closed, undefined);
});

Deno.test("a draining relay and a bad credential refuse before any handler runs", async () => {
  let ran = 0;
  const handler: TunnelHandler = () => {
    ran++;
    return Promise.resolve();
  };
  const draining = await service(handler, { isDraining: () => true });
  const first = memoryLink();
  const served = draining.accept(first.link);
  first.push(open("dev-1"));
  await served;
  assert.equal(await closeCode(first), "UNAVAILABLE");

  const tunnels = await service(handler);
  const bad = memoryLink();
  const refused = tunnels.accept(bad.link);
  bad.push(open("dev-1", "rdc_wrong"));
  await refused;
  assert.equal(await closeCode(bad), "UNAUTHORIZED");
  // A link that ends before saying anything is simply closed.
  const silent = memoryLink();
  const ended = tunnels.accept(silent.link);
  silent.end();
  await ended;
  assert.deepEqual(silent.sent, []);
  assert.equal(ran, 0);
});
