// The first message of a stream that has not authenticated yet, within the
// handshake timeout: device registrations and tunnel opens alike.
import { RelayError } from "../errors/relay_error.ts";
import { withDeadline } from "../limits/deadline.ts";

/**
 * Resolves with the first message (undefined if the stream ended first);
 * rejects with UNAUTHORIZED "no <what> within the handshake timeout".
 */
export async function firstMessageWithin<T>(
  inbound: AsyncIterator<T>,
  timeoutMs: number,
  what: string,
): Promise<T | undefined> {
  const first = await withDeadline(inbound.next(), timeoutMs, {
    onTimeout: () =>
      new RelayError(
        "UNAUTHORIZED",
        `no ${what} within the handshake timeout`,
        {
          source: "downstream",
        },
      ),
  });
  return first.done ? undefined : first.value;
}
