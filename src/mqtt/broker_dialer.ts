// BrokerDialer implementations: raw MQTT byte connections to the relay's
// broker for MQTT tunnels. Embedded broker: an in-process pair handed to
// aedes (works even when its TCP port could not be bound). External broker:
// a TCP or TLS socket, as the relay's own client uses.
import type { Duplex } from "node:stream";
import type { BrokerConnection, BrokerDialer } from "./mqtt_ports.ts";
import { type BrokerTarget, openDenoSocket } from "./broker_target.ts";
import type { EmbeddedBroker } from "./embedded_broker.ts";

export function embeddedDialer(broker: EmbeddedBroker): BrokerDialer {
  return {
    dial: () =>
      Promise.resolve(nodeStreamConnection(broker.connectInProcess())),
  };
}

export function externalDialer(target: BrokerTarget): BrokerDialer {
  return {
    async dial() {
      const conn = await openDenoSocket(target);
      let closed = false;
      return {
        readable: conn.readable,
        writable: conn.writable,
        close() {
          if (closed) return;
          closed = true;
          try {
            conn.close();
          } catch (error) {
            // Already closed by the streams (end of input, abort): nothing left to free.
            if (!(error instanceof Deno.errors.BadResource)) throw error;
          }
        },
      };
    },
  };
}

/** A node duplex (the client end of an in-process pair) as web streams. */
function nodeStreamConnection(stream: Duplex): BrokerConnection {
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      let done = false;
      const finish = (error?: Error) => {
        if (done) return;
        done = true;
        if (error) controller.error(error);
        else controller.close();
      };
      stream.on("data", (chunk: Uint8Array) => {
        if (done) return;
        controller.enqueue(
          new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
        );
        if ((controller.desiredSize ?? 0) <= 0) stream.pause();
      });
      stream.once("end", () => finish());
      stream.once("error", (error) => finish(error));
      stream.once("close", () => finish());
    },
    pull() {
      stream.resume();
    },
    cancel() {
      stream.destroy();
    },
  }, { highWaterMark: 16 });
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      return new Promise((resolve, reject) => {
        if (stream.destroyed) {
          reject(new Error("MQTT broker connection closed"));
          return;
        }
        stream.write(chunk, (error) => error ? reject(error) : resolve());
      });
    },
    close() {
      stream.end();
    },
    abort() {
      stream.destroy();
    },
  });
  return {
    readable,
    writable,
    close: () => stream.destroy(),
  };
}
