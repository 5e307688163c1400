// Wraps a grpc-js client duplex call as the SDK's ClientStream: async
// iteration that throws RelayError, writes with backpressure.
import type * as grpc from "@grpc/grpc-js";
import { RelayError } from "../../src/errors/relay_error.ts";
import type { ClientStream } from "../../src/sdk/connector.ts";
import { fromServiceError } from "./status_mapping.ts";

export function clientStream<Out, In>(
  call: grpc.ClientDuplexStream<Out, In>,
  ready: Promise<void>,
): ClientStream<Out, In> {
  let failure: RelayError | undefined;
  let drained: Promise<void> | undefined;
  call.on("error", (error) => failure ??= fromServiceError(error));
  ready.catch(() => {
    // Observed by whoever waits for it; the call reports the same failure.
  });
  return {
    transport: "h2",
    ready,
    messages: {
      async *[Symbol.asyncIterator]() {
        try {
          const inbound = call.iterator({
            destroyOnReturn: false,
          }) as AsyncIterable<In>;
          for await (const message of inbound) yield message;
        } catch (error) {
          throw failure ?? fromServiceError(error);
        }
        if (failure !== undefined) throw failure;
      },
    },
    send(message: Out): Promise<void> {
      if (failure !== undefined) return Promise.reject(failure);
      if (call.writableEnded || call.destroyed) {
        return Promise.reject(
          new RelayError("UNAVAILABLE", "stream is closed"),
        );
      }
      if (call.write(message)) return Promise.resolve();
      // Over the high-water mark: every writer waits for the same drain.
      drained ??= new Promise<void>((resolve, reject) => {
        const settle = () => {
          drained = undefined;
          call.off("drain", onDrain);
          call.off("close", onClose);
        };
        const onDrain = () => {
          settle();
          resolve();
        };
        const onClose = () => {
          settle();
          reject(
            failure ??
              new RelayError("UNAVAILABLE", "stream closed while writing"),
          );
        };
        call.on("drain", onDrain);
        call.on("close", onClose);
      });
      return drained;
    },
    end(): void {
      if (!call.writableEnded) call.end();
    },
    abort(): void {
      call.cancel();
    },
  };
}
