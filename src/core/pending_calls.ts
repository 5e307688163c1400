// Transparent calls waiting for their device's tunnel. The relay names each
// call with a random id in its GrpcCallStart; the device answers by opening a
// GRPC_CALL tunnel that names the id. Only that device's tunnel is attached,
// once; a tunnel naming an unknown id is refused.
import { randomBase64Url } from "../store/relay_store.ts";
import { RelayError } from "../errors/relay_error.ts";
import type { CallTunnel } from "./grpc_call_link.ts";

/** An attached tunnel and how to end it (an error ends it with an `error` frame). */
export interface AttachedTunnel {
  readonly tunnel: CallTunnel;
  end(error?: RelayError): void;
}

interface Waiting {
  deviceId: string;
  resolve: (attached: AttachedTunnel) => void;
}

export class PendingCalls {
  readonly #waiting = new Map<string, Waiting>();

  get size(): number {
    return this.#waiting.size;
  }

  /** A fresh, unguessable call id. */
  newCallId(): string {
    return randomBase64Url(18);
  }

  /**
   * Resolves with the device's tunnel for `callId`; rejects with the
   * signal's reason when it aborts first (deadline, caller gone, device gone).
   */
  expect(
    callId: string,
    deviceId: string,
    signal: AbortSignal,
  ): Promise<AttachedTunnel> {
    const { promise, resolve, reject } = Promise.withResolvers<
      AttachedTunnel
    >();
    const onAbort = () => {
      this.#waiting.delete(callId);
      reject(RelayError.from(signal.reason, "CANCELLED"));
    };
    if (signal.aborted) {
      onAbort();
      return promise;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    this.#waiting.set(callId, {
      deviceId,
      resolve: (attached) => {
        signal.removeEventListener("abort", onAbort);
        resolve(attached);
      },
    });
    return promise;
  }

  /**
   * Hands the tunnel to the call waiting for it. Resolves when the call ends
   * the tunnel cleanly, rejects with the error it ends it with (at once with
   * INVALID_REQUEST when no call of this device waits for it).
   */
  attach(tunnel: CallTunnel): Promise<void> {
    const waiting = this.#waiting.get(tunnel.callId);
    if (waiting === undefined || waiting.deviceId !== tunnel.deviceId) {
      return Promise.reject(
        new RelayError(
          "INVALID_REQUEST",
          "no transparent call of this device waits for this tunnel",
          { source: "downstream" },
        ),
      );
    }
    this.#waiting.delete(tunnel.callId);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    waiting.resolve({
      tunnel,
      end: (error) => error === undefined ? resolve() : reject(error),
    });
    return promise;
  }
}
