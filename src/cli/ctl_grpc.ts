// `relay ctl grpc` and `relay ctl call-many`: transparent gRPC calls to the
// devices' own servers from the command line, request and response as raw
// serialized messages (protobuf bytes, e.g. from `protoc --encode`).
import { Buffer } from "node:buffer";
import { grpcStatusName } from "../errors/grpc_status.ts";
import { RelayError } from "../errors/relay_error.ts";
import type { ControllerClient } from "../sdk/controller_client.ts";
import {
  keyValues,
  type Parsed,
  parseDuration,
  stringFlag,
} from "./cli_args.ts";

export const CTL_GRPC_USAGE =
  `  grpc DEVICE /pkg.Service/Method [--data-file FILE | --data TEXT] [--timeout 30s]
       [--metadata KEY=VALUE]...
                         one unary call on the device's own gRPC server (relay device
                         --grpc-target); the response message's bytes go to stdout
  call-many /pkg.Service/Method [DEVICE]... [--label KEY=VALUE]... [--data-file FILE]
       [--timeout 30s] [--concurrency 32] [--metadata KEY=VALUE]... [--json]
                         the same unary call on every named device and every online
                         device with all the labels; one line per device as each ends;
                         exits 1 unless all are OK`;

export const CTL_GRPC_OPTIONS = {
  metadata: { type: "string", multiple: true },
  concurrency: { type: "string" },
} as const;

/** The request message of `call`, `grpc` and `call-many`: --data-file or --data. */
export async function requestPayload(parsed: Parsed): Promise<Uint8Array> {
  const dataFile = stringFlag(parsed, "data-file");
  return dataFile
    ? await Deno.readFile(dataFile)
    : new TextEncoder().encode(stringFlag(parsed, "data") ?? "");
}

export async function grpcCall(
  client: ControllerClient,
  parsed: Parsed,
): Promise<number> {
  const [deviceId, method, ...extra] = parsed.positionals;
  if (!deviceId || !method || extra.length > 0) {
    throw new RelayError(
      "INVALID_REQUEST",
      "usage: ctl grpc DEVICE /pkg.Service/Method --data-file FILE",
    );
  }
  const timeout = stringFlag(parsed, "timeout");
  const result = await client.grpcCall(
    deviceId,
    method,
    await requestPayload(parsed),
    {
      ...(timeout ? { timeoutMs: parseDuration(timeout, "timeout") } : {}),
      metadata: keyValues(parsed, "metadata"),
    },
  );
  if (result.code !== 0) {
    console.error(
      `error: ${
        grpcStatusName(result.code)
      } (${result.code}): ${result.message}`,
    );
    return 1;
  }
  await Deno.stdout.write(result.response ?? new Uint8Array());
  return 0;
}

export async function callMany(
  client: ControllerClient,
  parsed: Parsed,
): Promise<number> {
  const [method, ...deviceIds] = parsed.positionals;
  const labels = keyValues(parsed, "label");
  if (!method || (deviceIds.length === 0 && Object.keys(labels).length === 0)) {
    throw new RelayError(
      "INVALID_REQUEST",
      "usage: ctl call-many /pkg.Service/Method [DEVICE]... [--label KEY=VALUE]... --data-file FILE (name devices, labels or both)",
    );
  }
  const timeout = stringFlag(parsed, "timeout");
  const concurrency = stringFlag(parsed, "concurrency");
  const json = parsed.values.json === true;
  let failed = 0;
  let total = 0;
  for await (
    const result of client.callMany({
      method,
      request: await requestPayload(parsed),
      deviceIds,
      labels,
      metadata: keyValues(parsed, "metadata"),
      ...(timeout
        ? { perDeviceTimeoutMs: parseDuration(timeout, "timeout") }
        : {}),
      ...(concurrency
        ? { maxConcurrency: positiveInteger(concurrency, "concurrency") }
        : {}),
    })
  ) {
    total++;
    if (result.code !== 0) failed++;
    const status = grpcStatusName(result.code);
    console.log(
      json
        ? JSON.stringify({
          device_id: result.deviceId,
          status,
          code: result.code,
          message: result.message,
          duration_ms: result.durationMs,
          response_base64: Buffer.from(result.response).toString("base64"),
        })
        : [
          result.deviceId,
          status,
          `${result.durationMs}ms`,
          result.code === 0
            ? `${result.response.byteLength} bytes`
            : result.message,
        ].join("\t"),
    );
  }
  console.error(`${total - failed} of ${total} devices answered OK`);
  return failed === 0 ? 0 : 1;
}

function positiveInteger(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new RelayError(
      "INVALID_REQUEST",
      `--${flag}: expected a positive whole number, got ${
        JSON.stringify(text)
      }`,
    );
  }
  return value;
}
