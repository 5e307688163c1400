// A request body read as JSON, refused once it passes a size limit (the
// stream is cancelled at the limit, whatever Content-Length claims).
import { RelayError } from "../errors/relay_error.ts";

export async function readJsonBody(
  request: Request,
  maxBytes: number,
): Promise<unknown> {
  const tooLarge = () =>
    new RelayError(
      "INVALID_REQUEST",
      `request body larger than ${maxBytes} bytes`,
      { source: "downstream" },
    );
  if (Number(request.headers.get("content-length") ?? 0) > maxBytes) {
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body ?? []) {
    size += chunk.byteLength;
    if (size > maxBytes) throw tooLarge(); // leaving the loop cancels the body
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new RelayError("INVALID_REQUEST", "request body is not valid JSON", {
      source: "downstream",
      cause: error,
    });
  }
}
