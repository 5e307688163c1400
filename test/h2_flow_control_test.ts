// HTTP/2 flow-control windows: the relay and the SDK announce windows wide
// enough for 64 KiB messages to stream without waiting on WINDOW_UPDATEs.
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { deviceConnector } from "../mod.ts";
import {
  CONNECTION_WINDOW_BYTES,
  STREAM_WINDOW_BYTES,
} from "../transports/grpc/http2_servers.ts";
import { startTestRelay } from "./harness.ts";

Deno.test("the relay's gRPC listener announces its stream and connection windows", async () => {
  const t = await startTestRelay({ transport: "h2" });
  const session = http2.connect(`https://${t.relay.grpcAddress}`, {
    ca: t.clientOptions.caPem,
    servername: "localhost",
  });
  try {
    await new Promise((resolve, reject) => {
      session.once("remoteSettings", resolve);
      session.once("error", reject);
    });
    // The relay's own settings and the connection's WINDOW_UPDATE follow
    // the protocol's initial SETTINGS frame.
    const deadline = Date.now() + 2000;
    while (
      (session.remoteSettings.initialWindowSize !== STREAM_WINDOW_BYTES ||
        session.state.remoteWindowSize !== CONNECTION_WINDOW_BYTES) &&
      Date.now() < deadline
    ) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(session.remoteSettings.initialWindowSize, STREAM_WINDOW_BYTES);
    assert.equal(session.state.remoteWindowSize, CONNECTION_WINDOW_BYTES);
  } finally {
    session.destroy();
    await t.close();
  }
});

Deno.test("the SDK's HTTP/2 channel announces the stream window to the relay", async () => {
  const server = http2.createServer();
  const announced = new Promise<http2.Settings>((resolve) =>
    server.on("session", (session) => session.once("remoteSettings", resolve))
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const connector = deviceConnector({
    address: `127.0.0.1:${port}`,
    transport: "h2",
    insecure: true,
  });
  try {
    const stream = connector.connect();
    stream.send({ register: { device_id: "window-1" } }).catch(() => {});
    const settings = await announced;
    assert.equal(settings.initialWindowSize, STREAM_WINDOW_BYTES);
  } finally {
    connector.close();
    await new Promise((resolve) => server.close(resolve));
  }
});
