// W3C traceparent in a transparent call's metadata: read by each hop for its
// span's parent, and replaced by the hop's own span before it goes on.
import type { MetadataEntry } from "./grpc_call_types.ts";

const KEY = "traceparent";
const text = new TextDecoder();
const bytes = new TextEncoder();

/** The metadata's traceparent, "" when it has none. */
export function traceparentIn(metadata: readonly MetadataEntry[]): string {
  const entry = metadata.find((candidate) => candidate.key === KEY);
  return entry === undefined ? "" : text.decode(entry.value);
}

/** The metadata with `traceparent` naming the next parent ("" leaves it as it is). */
export function withTraceparent(
  metadata: MetadataEntry[],
  traceparent: string,
): MetadataEntry[] {
  if (traceparent === "") return metadata;
  return [
    ...metadata.filter((entry) => entry.key !== KEY),
    { key: KEY, value: bytes.encode(traceparent) },
  ];
}
