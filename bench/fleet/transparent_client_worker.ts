// The client end of the transparent-call scenario as its own process. Every
// target gets the same two loads, each in rotating rounds so that noise from
// the other processes on a shared machine hits every target alike:
//   unary:  1 KiB calls one after the other (bench.Echo/Unary, or one
//           envelope request on a ConnectToDevice session);
//   stream: 64 KiB messages with a fixed window in flight on ONE stream
//           (bench.Echo/Stream, or one ConnectToDevice session).
// Targets (JSON in $BENCH_TRANSPARENT_TARGETS, they hold the admin token):
//   kind "grpc": a grpc-js client of the device's service at `address` (TLS,
//   verified as localhost): the device's server itself, nginx, or the
//   relay's gRPC port with relay-device-id and authorization metadata;
//   kind "envelope": the controller SDK to the same device's echo handler.
// Prints on stdout, one JSON object per line:
//   {"type":"mark","phase":P,"target":T,"event":"start"|"end"} around rounds
//   {"type":"result","unary":{T: LoadResult},"stream":{T: LoadResult},
//    "errors":{"P T": message}}
// Usage:
//   deno run -A bench/fleet/transparent_client_worker.ts --ca FILE \
//     --unary-payload 1024 --count N --warmup N --rounds R \
//     --stream-payload 65536 --window W --duration-ms MS --warmup-ms MS \
//     --stream-rounds R
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import { parseArgs } from "node:util";
import { ControllerClient, controllerConnector } from "../../mod.ts";
import type { DeviceCallSession } from "../../src/sdk/controller_client.ts";
import { STREAM_WINDOW_BYTES } from "../../transports/grpc/http2_servers.ts";
import { BENCH_SERVER_NAME } from "../echo_path.ts";
import {
  benchPayload,
  checkEcho,
  combine,
  type EchoCall,
  type LoadResult,
  type Measurement,
  measureSequential,
  measureWindowed,
} from "../load_patterns.ts";
import {
  deserializeBytes,
  MAX_MESSAGE_BYTES,
  serializeBytes,
  STREAM_PATH,
  UNARY_PATH,
} from "./transparent_echo_service.ts";

export type TransparentTargetSpec =
  | {
    name: string;
    kind: "grpc";
    address: string;
    /** Sent as relay-device-id (through the relay only). */
    deviceId?: string;
    /** Sent as `authorization: Bearer ...` (through the relay only). */
    token?: string;
  }
  | {
    name: string;
    kind: "envelope";
    transport: "h2" | "quic";
    address: string;
    quicAddress: string;
    deviceId: string;
    token: string;
  };

export type Phase = "unary" | "stream";

/** A call that has not answered by then is a failure, not a hang. */
const CALL_DEADLINE_MS = 30_000;

/** One target's two loads, and how to let it go. */
interface Target {
  name: string;
  unary: EchoCall;
  /** Opens the one stream the stream phase uses. */
  openStream(): EchoCall;
  close(): Promise<void>;
}

function grpcClientTarget(
  spec: Extract<TransparentTargetSpec, { kind: "grpc" }>,
  caPem: string,
): Target {
  const client = new grpc.Client(
    spec.address,
    grpc.credentials.createSsl(Buffer.from(caPem)),
    {
      "grpc.ssl_target_name_override": BENCH_SERVER_NAME,
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
      "grpc.use_local_subchannel_pool": 1,
      // The SDK's receive window, so no path waits for WINDOW_UPDATEs.
      "grpc-node.flow_control_window": STREAM_WINDOW_BYTES,
    },
  );
  const metadata = () => {
    const m = new grpc.Metadata();
    if (spec.deviceId !== undefined) m.set("relay-device-id", spec.deviceId);
    if (spec.token !== undefined) {
      m.set("authorization", `Bearer ${spec.token}`);
    }
    return m;
  };
  const streams: grpc.ClientDuplexStream<Uint8Array, Buffer>[] = [];
  return {
    name: spec.name,
    unary: (payload) =>
      new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          UNARY_PATH,
          serializeBytes,
          deserializeBytes,
          payload,
          metadata(),
          { deadline: Date.now() + CALL_DEADLINE_MS },
          (error, answer) => error ? reject(error) : resolve(answer!),
        );
      }),
    openStream() {
      const stream = client.makeBidiStreamRequest(
        STREAM_PATH,
        serializeBytes,
        deserializeBytes,
        metadata(),
      );
      streams.push(stream);
      return fifoEcho(stream);
    },
    async close() {
      await Promise.all(streams.map(endStream));
      client.close();
    },
  };
}

/**
 * The echo stream as request/answer pairs: answers come in the order the
 * messages went, so each one settles the oldest waiting call.
 */
function fifoEcho(stream: grpc.ClientDuplexStream<Uint8Array, Buffer>) {
  const waiting: PromiseWithResolvers<Uint8Array>[] = [];
  let failure: Error | undefined;
  stream.on("data", (answer: Buffer) => waiting.shift()?.resolve(answer));
  const fail = (error: Error) => {
    failure ??= error;
    for (const call of waiting.splice(0)) call.reject(failure);
  };
  stream.on("error", fail);
  stream.on(
    "status",
    (status: grpc.StatusObject) =>
      fail(new Error(`stream ended: ${status.code} ${status.details}`)),
  );
  return (payload: Uint8Array): Promise<Uint8Array> => {
    if (failure) return Promise.reject(failure);
    const call = Promise.withResolvers<Uint8Array>();
    waiting.push(call);
    stream.write(payload);
    return call.promise;
  };
}

async function endStream(
  stream: grpc.ClientDuplexStream<Uint8Array, Buffer>,
): Promise<void> {
  const ended = new Promise<void>((resolve) => {
    stream.on("status", () => resolve());
    setTimeout(resolve, 2000);
  });
  stream.end();
  await ended;
  stream.cancel();
}

function envelopeTarget(
  spec: Extract<TransparentTargetSpec, { kind: "envelope" }>,
  caPem: string,
): Target {
  const client = new ControllerClient({
    connector: controllerConnector({
      address: spec.address,
      quicAddress: spec.quicAddress,
      caPem,
      serverName: BENCH_SERVER_NAME,
      transport: spec.transport,
    }),
    token: spec.token,
    // The relay only forwards bytes: measure it, not HPKE in the clients.
    e2e: false,
  });
  const sessions: DeviceCallSession[] = [];
  const session = () => {
    const opened = client.openSession(spec.deviceId);
    sessions.push(opened);
    return (payload: Uint8Array) => opened.call("echo", payload);
  };
  return {
    name: spec.name,
    unary: session(),
    openStream: session,
    async close() {
      await Promise.all(sessions.map((s) => s.close().catch(() => {})));
      await client.close().catch(() => {});
    },
  };
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    ca: { type: "string" },
    "unary-payload": { type: "string", default: "1024" },
    count: { type: "string", default: "1000" },
    warmup: { type: "string", default: "200" },
    rounds: { type: "string", default: "5" },
    "stream-payload": { type: "string", default: "65536" },
    window: { type: "string", default: "16" },
    "duration-ms": { type: "string", default: "3000" },
    "warmup-ms": { type: "string", default: "1000" },
    "stream-rounds": { type: "string", default: "2" },
  },
});
const caPem = await Deno.readTextFile(values.ca!);
const specs: TransparentTargetSpec[] = JSON.parse(
  Deno.env.get("BENCH_TRANSPARENT_TARGETS") ?? "[]",
);
const targets = specs.map((spec) =>
  spec.kind === "grpc"
    ? grpcClientTarget(spec, caPem)
    : envelopeTarget(spec, caPem)
);
const errors: Record<string, string> = {};
const emit = (message: Record<string, unknown>) =>
  console.log(JSON.stringify(message));

interface Load {
  phase: Phase;
  payload: Uint8Array;
  rounds: number;
  /** The call of a target for this phase (opened once). */
  callOf(target: Target): EchoCall;
  warmup(call: EchoCall): Promise<unknown>;
  measure(call: EchoCall, round: number): Promise<Measurement>;
}

/** A check and a warm-up per target, then rounds in rotating order. */
async function run(load: Load): Promise<Record<string, LoadResult>> {
  const calls = new Map<string, EchoCall>();
  const measured = new Map<string, Measurement[]>();
  for (const target of targets) {
    try {
      const call = load.callOf(target);
      checkEcho(load.payload, await call(load.payload));
      await load.warmup(call);
      calls.set(target.name, call);
      measured.set(target.name, []);
    } catch (error) {
      errors[`${load.phase} ${target.name}`] = (error as Error).message;
    }
  }
  for (let round = 0; round < load.rounds; round++) {
    const live = targets.filter((target) => measured.has(target.name));
    const start = live.length === 0 ? 0 : round % live.length;
    for (const target of [...live.slice(start), ...live.slice(0, start)]) {
      const { name } = target;
      emit({ type: "mark", phase: load.phase, target: name, event: "start" });
      try {
        measured.get(name)!.push(await load.measure(calls.get(name)!, round));
      } catch (error) {
        errors[`${load.phase} ${name}`] = (error as Error).message;
        measured.delete(name);
      }
      emit({ type: "mark", phase: load.phase, target: name, event: "end" });
    }
  }
  const results: Record<string, LoadResult> = {};
  for (const [name, rounds] of measured) {
    results[name] = combine(rounds, load.payload.byteLength);
  }
  return results;
}

const count = Number(values.count);
const unaryRounds = Math.max(1, Number(values.rounds));
const unaryPayload = benchPayload(Number(values["unary-payload"]));
const unary = await run({
  phase: "unary",
  payload: unaryPayload,
  rounds: unaryRounds,
  callOf: (target) => target.unary,
  warmup: (call) =>
    measureSequential(call, unaryPayload, Number(values.warmup)),
  measure: (call, round) =>
    measureSequential(
      call,
      unaryPayload,
      Math.floor(count / unaryRounds) + (round < count % unaryRounds ? 1 : 0),
    ),
});
const window = Number(values.window);
const streamRounds = Math.max(1, Number(values["stream-rounds"]));
const streamPayload = benchPayload(Number(values["stream-payload"]));
const stream = await run({
  phase: "stream",
  payload: streamPayload,
  rounds: streamRounds,
  callOf: (target) => target.openStream(),
  warmup: (call) =>
    measureWindowed(
      call,
      streamPayload,
      window,
      Number(values["warmup-ms"]),
    ),
  measure: (call) =>
    measureWindowed(
      call,
      streamPayload,
      window,
      Number(values["duration-ms"]) / streamRounds,
    ),
});
emit({ type: "result", unary, stream, errors });
await Promise.all(targets.map((target) => target.close().catch(() => {})));
Deno.exit(0);
