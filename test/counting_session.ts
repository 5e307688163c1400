// A controller session on a raw ConnectToDevice stream that records every
// response it receives, duplicates included, so tests can assert that each
// request was answered exactly once (the SDK's session would silently drop
// a second answer for the same sequence number).
import { controllerConnector } from "../mod.ts";
import type {
  ClientStream,
  ControllerConnector,
  ControllerMessage,
  DeviceResponse,
} from "../src/sdk/connector.ts";
import type { ClientTransportOptions } from "../src/cli/wiring.ts";

export class CountingSession {
  /** Every response in arrival order. */
  readonly responses: DeviceResponse[] = [];
  readonly #connector: ControllerConnector;
  readonly #stream: ClientStream<ControllerMessage, DeviceResponse>;
  readonly #deviceId: string;
  readonly #reader: Promise<void>;
  #failure: unknown;
  #wake: (() => void)[] = [];

  constructor(
    options: ClientTransportOptions,
    token: string,
    deviceId: string,
  ) {
    this.#connector = controllerConnector(options);
    this.#stream = this.#connector.openStream(token);
    this.#deviceId = deviceId;
    this.#reader = this.#read();
  }

  /** Sends one request; `sequenceNumber` must be unique within the session. */
  send(
    sequenceNumber: number,
    method: string,
    payload: Uint8Array,
    timeoutMs = 10_000,
  ): Promise<void> {
    return this.#stream.send({
      target_device_id: this.#deviceId,
      method_name: method,
      sequence_number: sequenceNumber,
      encrypted_payload: payload,
      timeout_ms: timeoutMs,
    });
  }

  /** Responses received for one sequence number. */
  responsesFor(sequenceNumber: number): DeviceResponse[] {
    return this.responses.filter((r) => r.sequence_number === sequenceNumber);
  }

  /** Waits until every sequence number in `sequenceNumbers` has an answer. */
  async waitFor(sequenceNumbers: number[], timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const answered = () => {
      const seen = new Set(this.responses.map((r) => r.sequence_number));
      return sequenceNumbers.filter((n) => !seen.has(n));
    };
    for (let missing = answered(); missing.length > 0; missing = answered()) {
      if (this.#failure !== undefined) throw this.#failure;
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(
          `${missing.length} of ${sequenceNumbers.length} requests unanswered, e.g. ${
            missing.slice(0, 5).join(", ")
          }`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, left);
        this.#wake.push(resolve);
      });
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.#stream.abort();
    await this.#reader;
    this.#connector.close();
  }

  async #read(): Promise<void> {
    try {
      for await (const response of this.#stream.messages) {
        this.responses.push(response);
        for (const wake of this.#wake.splice(0)) wake();
      }
    } catch (error) {
      this.#failure = error;
      for (const wake of this.#wake.splice(0)) wake();
    }
  }
}
