// Drives one device link: authentication of the first `register` message,
// registration, heartbeats, responses and publications, until the link ends.
import { RelayError } from "../errors/relay_error.ts";
import type { RelayMetrics } from "../observability/relay_metrics.ts";
import type { DevicePublications } from "./device_publish.ts";
import type { DeviceRegistry } from "./device_registry.ts";
import {
  type DeviceClaim,
  deviceHandshake,
  type DeviceHandshakeDeps,
} from "./device_handshake.ts";
import type { DeviceSession } from "./device_session.ts";
import type { InputLimits } from "./input_limits.ts";
import type { DeviceLink } from "./links.ts";
import type { DeviceMessage } from "./messages.ts";

export interface DeviceConnectionDeps extends DeviceHandshakeDeps {
  registry: DeviceRegistry;
  metrics: RelayMetrics;
  heartbeatIntervalMs: number;
  inputLimits: InputLimits;
  publications: DevicePublications;
}

export async function serveDeviceLink(
  link: DeviceLink,
  deps: DeviceConnectionDeps,
): Promise<void> {
  deps.metrics.activeStreams.inc({ kind: "device" });
  try {
    await serve(link, deps);
  } catch (error) {
    const relayError = RelayError.from(error);
    deps.logger.debug("device link failed", {
      remote: link.remoteAddress,
      code: relayError.code,
      reason: relayError.message,
    });
    link.close(relayError);
  } finally {
    deps.metrics.activeStreams.dec({ kind: "device" });
  }
}

async function serve(
  link: DeviceLink,
  deps: DeviceConnectionDeps,
): Promise<void> {
  const inbound = link.messages[Symbol.asyncIterator]();
  const device = await deviceHandshake(link, inbound, deps, {
    stream: "device",
    expected: "register message",
    claim: (first) => registerClaim(first, deps.inputLimits),
    onRefused: () =>
      deps.metrics.deviceRegistrations.inc({ result: "rejected" }),
  });
  if (device === undefined) return link.close(); // closed before saying anything
  const { deviceId, record, credential } = device;
  const register = device.first.register!;

  let registration;
  try {
    deps.gate.admitDeviceConnection(link, deviceId);
    registration = deps.registry.register({
      deviceId,
      project: record.project,
      link,
      metadata: { ...register.metadata },
      previousConnectionId: register.previous_connection_id,
      grpcTarget: register.grpc_target,
    });
  } catch (error) {
    deps.metrics.deviceRegistrations.inc({ result: "rejected" });
    return link.close(RelayError.from(error));
  }
  const { session, resumed } = registration;
  const generation = session.generation;
  deps.metrics.deviceRegistrations.inc({ result: resumed ? "resumed" : "new" });
  deps.gate.authSucceeded(link, `device:${deviceId}`);
  deps.gate.deviceConnected(link, deviceId, resumed);
  deps.logger.info("device registered", {
    device_id: deviceId,
    connection_id: session.connectionId,
    generation,
    resumed,
    transport: link.transport,
    remote: link.remoteAddress,
  });
  try {
    await link.send({
      register_response: {
        connection_id: session.connectionId,
        session_resumed: resumed,
        timestamp: Date.now(),
        generation,
        heartbeat_interval_ms: deps.heartbeatIntervalMs,
      },
    });
  } catch {
    // The transport died right after register: resumable like any drop.
    deps.registry.linkEnded(session, generation, false);
    return;
  }
  // Requests that waited for this device (resume or replacement) go out now.
  if (deps.registry.isCurrent(session, generation)) session.resendPending();

  let graceful = false;
  let violation: RelayError | undefined;
  let failure: RelayError | undefined;
  try {
    for (;;) {
      const next = await inbound.next();
      if (next.done) {
        graceful = true;
        break;
      }
      if (!deps.registry.isCurrent(session, generation)) break; // replaced or evicted
      try {
        checkIdentity(next.value, deviceId, credential, deps, link);
        deps.registry.touch(session, generation);
        if (next.value.payload === "publish") {
          // Awaited: a device that floods publications waits for its acks.
          await publish(link, deviceId, next.value, deps);
        } else handleMessage(link, session, next.value);
      } catch (error) {
        violation = RelayError.from(error);
        break;
      }
    }
  } catch (error) {
    // Transport failure (or a frame the transport refused): resumable.
    failure = RelayError.from(error, "UNAVAILABLE");
  }
  if (violation !== undefined) {
    link.close(violation);
    const reason = violation.code === "UNAUTHORIZED" ? "revoked" : "graceful";
    if (deps.registry.isCurrent(session, generation)) {
      deps.registry.evict(deviceId, reason, violation);
    }
    return;
  }
  deps.registry.linkEnded(session, generation, graceful);
  // Either way this stream is done; a failed one is told why if it still can be.
  link.close(failure);
}

function handleMessage(
  link: DeviceLink,
  session: DeviceSession,
  message: DeviceMessage,
): void {
  switch (message.payload) {
    case "heartbeat":
      link.send({ heartbeat_response: { timestamp: Date.now() } }).catch(() => {
        // A failed write means the link is going away; the read loop sees that.
      });
      return;
    case "data":
      session.complete(message.data!);
      return;
    case "register":
      throw new RelayError(
        "INVALID_REQUEST",
        "already registered on this stream",
        {
          source: "downstream",
        },
      );
  }
}

/** Forwards one publication and answers it; a refusal never ends the stream. */
async function publish(
  link: DeviceLink,
  deviceId: string,
  message: DeviceMessage,
  deps: DeviceConnectionDeps,
): Promise<void> {
  if (message.publish == null) return;
  const ack = deps.publications.handle(link, deviceId, message.publish);
  if (ack === undefined) return;
  try {
    await link.send({ publish_ack: ack });
  } catch {
    // A failed write means the link is going away; the read loop sees that.
  }
}

/** The identity a `register` message claims; its metadata within the input limits. */
function registerClaim(
  first: DeviceMessage,
  inputLimits: InputLimits,
): DeviceClaim {
  const register = first.register;
  if (first.payload !== "register" || register == null) {
    throw invalid("first message must be register");
  }
  if (
    register.device_id !== "" && first.device_id !== "" &&
    register.device_id !== first.device_id
  ) {
    throw invalid("device_id differs between message and register");
  }
  inputLimits.checkMetadata(register.metadata, "register metadata");
  return {
    deviceId: first.device_id || register.device_id,
    credential: first.token,
  };
}

function invalid(message: string): RelayError {
  return new RelayError("INVALID_REQUEST", message, { source: "downstream" });
}

/** Every message that carries an identity must match the registered one. */
function checkIdentity(
  message: DeviceMessage,
  deviceId: string,
  credential: string,
  deps: DeviceConnectionDeps,
  link: DeviceLink,
): void {
  if (message.device_id !== "" && message.device_id !== deviceId) {
    deps.gate.authFailed(
      link,
      `device:${deviceId}`,
      "message carries another device_id",
    );
    throw new RelayError(
      "UNAUTHORIZED",
      "device_id differs from the registered device",
      {
        source: "downstream",
      },
    );
  }
  if (message.token !== "" && message.token !== credential) {
    if (deps.verifyCredential(deviceId, message.token) === undefined) {
      deps.gate.authFailed(
        link,
        `device:${deviceId}`,
        "invalid or revoked device credential",
      );
      throw new RelayError(
        "UNAUTHORIZED",
        "invalid or revoked device credential",
        {
          source: "downstream",
        },
      );
    }
  }
}
