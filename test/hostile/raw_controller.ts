// A ConnectToDevice stream driven message by message over the case's
// transport (no SDK session bookkeeping): every answer is seen, also
// duplicates, and the error that closes the stream is reported as is.
import { RelayError } from "../../src/errors/relay_error.ts";
import { controllerConnector } from "../../mod.ts";
import type {
  ControllerMessage,
  DeviceResponse,
} from "../../src/sdk/connector.ts";
import type { TestRelay } from "../harness.ts";

export interface RawController {
  send(message: Partial<ControllerMessage>): Promise<void>;
  /** The next answer, or undefined once the stream ended cleanly; rejects with the closing error or after `timeoutMs`. */
  next(timeoutMs?: number): Promise<DeviceResponse | undefined>;
  /** Reads `count` answers (bounded). */
  take(count: number, timeoutMs?: number): Promise<DeviceResponse[]>;
  /** True if no answer arrives within `ms` (the stream stays quiet). */
  quietFor(ms: number): Promise<boolean>;
  /** Reads until the relay ends the stream; the error it was closed with (undefined: clean end). */
  closeReason(timeoutMs?: number): Promise<RelayError | undefined>;
  close(): void;
}

const TIMEOUT = Symbol("timeout");

export function rawController(t: TestRelay, token: string): RawController {
  const connector = controllerConnector(t.clientOptions);
  const stream = connector.openStream(token);
  const inbound = stream.messages[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<DeviceResponse>> | undefined;
  const read = async (timeoutMs: number) => {
    pending ??= inbound.next();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<typeof TIMEOUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMEOUT), timeoutMs);
    });
    try {
      const result = await Promise.race([pending, expired]);
      if (result !== TIMEOUT) pending = undefined;
      return result;
    } catch (error) {
      pending = undefined;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  };
  const api: RawController = {
    send: (message) =>
      stream.send({
        target_device_id: "",
        method_name: "echo",
        sequence_number: 0,
        encrypted_payload: new Uint8Array(0),
        timeout_ms: 3000,
        ...message,
      }),
    async next(timeoutMs = 3000) {
      const result = await read(timeoutMs);
      if (result === TIMEOUT) {
        throw new Error(`no answer within ${timeoutMs} ms`);
      }
      return result.done ? undefined : result.value;
    },
    async take(count, timeoutMs = 3000) {
      const answers: DeviceResponse[] = [];
      while (answers.length < count) {
        const answer = await api.next(timeoutMs);
        if (answer === undefined) {
          throw new Error(
            `stream ended after ${answers.length} of ${count} answers`,
          );
        }
        answers.push(answer);
      }
      return answers;
    },
    async quietFor(ms) {
      try {
        return await read(ms) === TIMEOUT;
      } catch {
        return false;
      }
    },
    async closeReason(timeoutMs = 2000) {
      const deadline = Date.now() + timeoutMs;
      try {
        for (;;) {
          const result = await read(Math.max(1, deadline - Date.now()));
          if (result === TIMEOUT) {
            throw new Error(
              `the relay left the stream open for ${timeoutMs} ms`,
            );
          }
          if (result.done) return undefined;
        }
      } catch (error) {
        if (error instanceof RelayError) return error;
        throw error;
      }
    },
    close() {
      stream.abort();
      connector.close();
    },
  };
  return api;
}
