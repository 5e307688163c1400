// grpc-js Metadata and relay.v1 MetadataEntry lists, both ways: the one
// conversion for transparent calls (request metadata to the device, response
// headers and trailers back). Keys ending in "-bin" carry raw bytes.
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import type { MetadataEntry } from "../../src/core/grpc_call_link.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Every value of `metadata` whose key `keep` accepts, in order. */
export function metadataEntries(
  metadata: grpc.Metadata,
  keep: (key: string) => boolean = () => true,
): MetadataEntry[] {
  const entries: MetadataEntry[] = [];
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    if (!keep(key)) continue;
    for (const value of values) {
      entries.push({
        key,
        value: typeof value === "string" ? encoder.encode(value) : value,
      });
    }
  }
  return entries;
}

/** grpc-js Metadata holding `entries`; malformed keys or values are skipped. */
export function toMetadata(entries: readonly MetadataEntry[]): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const { key, value } of entries) {
    const bytes = value;
    try {
      metadata.add(
        key,
        key.endsWith("-bin")
          ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
          : decoder.decode(bytes),
      );
    } catch {
      // grpc-js refuses keys and values HTTP/2 cannot carry; the rest still goes.
    }
  }
  return metadata;
}
