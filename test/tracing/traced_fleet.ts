// `relay serve` and `relay device` processes with Deno's OpenTelemetry on,
// exporting to one OtlpReceiver; stop() ends them with SIGTERM so each
// exports what it still holds.
import assert from "node:assert/strict";
import {
  relayPorts,
  run,
  serveOnFreePorts,
  spawn,
  watch,
} from "../cli_processes.ts";
import type { OtlpReceiver } from "./otlp_receiver.ts";

export interface TracedFleet {
  stateDir: string;
  /** gRPC port of the relay (TLS, certificate for "localhost"). */
  port: number;
  /** --state-dir, --relay and --quic-relay, for device and ctl commands. */
  common: string[];
  /** A device agent over `transport`, connected; service `device-<transport>`. */
  startDevice(id: string, transport: string, args: string[]): Promise<void>;
  /** SIGTERM to every process, devices first; resolves when all exited 0. */
  stop(): Promise<void>;
  /** SIGKILL of what is left, and the state directory removed. */
  cleanup(): Promise<void>;
}

export async function startTracedFleet(
  receiver: OtlpReceiver,
): Promise<TracedFleet> {
  const stateDir = await Deno.makeTempDir({ prefix: "relay-traces-" });
  const children: Deno.ChildProcess[] = [];
  const outputs: Promise<void>[] = [];
  const watched = (child: Deno.ChildProcess) => {
    children.push(child);
    const stderr = watch(child.stderr);
    outputs.push(stderr.done, watch(child.stdout).done);
    return stderr;
  };
  const { relay, relayErr, relayOut } = serveOnFreePorts(
    stateDir,
    receiver.env("relay"),
  );
  children.push(relay);
  outputs.push(relayErr.done, relayOut.done);
  const { port, quicPort } = await relayPorts(relayErr);
  const common = [
    "--state-dir",
    stateDir,
    "--relay",
    `localhost:${port}`,
    "--quic-relay",
    `localhost:${quicPort}`,
  ];
  return {
    stateDir,
    port: Number(port),
    common,
    async startDevice(id, transport, args) {
      const token = await run(
        ["token", "device", "--id", id, "--state-dir", stateDir],
      );
      assert.equal(token.code, 0, token.stderr);
      const deviceErr = watched(spawn([
        "device",
        "--id",
        id,
        "--token",
        token.stdout.trim(),
        "--transport",
        transport,
        "--e2e-key",
        `${stateDir}/${id}.e2e.json`,
        ...args,
        ...common,
      ], receiver.env(`device-${transport}`)));
      await deviceErr.waitFor(new RegExp(`${id}: connected via ${transport}`));
    },
    async stop() {
      for (const child of [...children].reverse()) {
        child.kill("SIGTERM");
        assert.equal((await child.status).code, 0);
      }
      await Promise.all(outputs);
    },
    async cleanup() {
      for (const child of children) {
        try {
          child.kill("SIGKILL");
        } catch { /* it ended */ }
      }
      await Promise.all(children.map((child) => child.status));
      await Deno.remove(stateDir, { recursive: true });
    },
  };
}
