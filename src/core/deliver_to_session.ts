// One request to a device session this relay holds, bounded by its deadline
// and by `signal` (the controller's stream ending, or the cluster hop giving
// up): the device's DataResponse, or the RelayError that ended the wait.
// Shared by RequestRouter (a local controller) and the cluster's handler for
// requests another relay forwards here.
import { RelayError } from "../errors/relay_error.ts";
import type { DeliveryRequest, DeviceSession } from "./device_session.ts";
import type { DataResponse } from "./messages.ts";

export async function deliverToSession(
  session: DeviceSession,
  request: Omit<DeliveryRequest, "deadline">,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<DataResponse> {
  // One controller for deadline and caller, with listeners removed when the
  // request settles (AbortSignal.any would outlive it).
  const abort = new AbortController();
  const onCallerGone = () => abort.abort(signal.reason);
  signal.addEventListener("abort", onCallerGone, { once: true });
  const timer = setTimeout(() => {
    abort.abort(
      session.link === null
        ? new RelayError(
          "DEVICE_OFFLINE",
          "device did not resume before the request deadline",
        )
        : new RelayError(
          "DEADLINE_EXCEEDED",
          "device did not answer before the deadline",
        ),
    );
  }, timeoutMs);
  try {
    return await session.deliver(
      { ...request, deadline: Date.now() + timeoutMs },
      abort.signal,
    );
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onCallerGone);
  }
}
