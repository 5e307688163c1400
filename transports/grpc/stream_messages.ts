// The messages of a grpc-js call (server or client side) as a pull iterator,
// read from 'data' events one at a time: the stream is paused while a message
// waits, so grpc-js stops reading from HTTP/2 and flow control holds the
// sender back. Not the stream's own async iterator: when the stream emits
// 'error' (how a server call sends a non-OK status, and how a client call
// reports one) that iterator destroys the stream, and a destroyed server call
// never sends its status.
import type { Readable } from "node:stream";

/**
 * Ends after the last message (or when the stream is destroyed); rejects
 * with the signal's reason once it aborts (grpc-js does not end the readable
 * side when the peer resets the stream).
 */
export async function* streamMessages<T>(
  stream: Readable,
  signal?: AbortSignal,
): AsyncGenerator<T> {
  const waiting: T[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const onData = (message: T) => {
    waiting.push(message);
    stream.pause();
    notify();
  };
  const onEnd = () => {
    ended = true;
    notify();
  };
  stream.on("data", onData);
  stream.once("end", onEnd);
  stream.once("close", onEnd);
  signal?.addEventListener("abort", notify);
  try {
    for (;;) {
      signal?.throwIfAborted();
      const message = waiting.shift();
      if (message !== undefined) {
        yield message;
        if (waiting.length === 0) stream.resume();
      } else if (ended) {
        return;
      } else {
        await new Promise<void>((resolve) => wake = resolve);
      }
    }
  } finally {
    stream.off("data", onData);
    stream.off("end", onEnd);
    stream.off("close", onEnd);
    signal?.removeEventListener("abort", notify);
  }
}
