// The first message of a stream that has not authenticated yet, within the
// handshake timeout: device registrations and tunnel opens alike.
import { RelayError } from "../errors/relay_error.ts";

/**
 * Resolves with the first message (undefined if the stream ended first);
 * rejects with UNAUTHORIZED "no <what> within the handshake timeout".
 */
export async function firstMessageWithin<T>(
  inbound: AsyncIterator<T>,
  timeoutMs: number,
  what: string,
): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new RelayError(
            "UNAUTHORIZED",
            `no ${what} within the handshake timeout`,
            { source: "downstream" },
          ),
        ),
      timeoutMs,
    );
  });
  try {
    const first = await Promise.race([inbound.next(), timeout]);
    return first.done ? undefined : first.value;
  } finally {
    clearTimeout(timer);
  }
}
