// Drives one controller stream (ConnectToDevice): authenticates every
// message, runs requests concurrently (pipelining, bounded per stream) and
// writes each answer as soon as it is ready.
import type {
  ControllerAuthenticator,
  ControllerPrincipal,
} from "../auth/controller_auth.ts";
import { RelayError } from "../errors/relay_error.ts";
import type { Logger } from "../observability/logger.ts";
import type { RelayMetrics } from "../observability/relay_metrics.ts";
import type { ControllerLink } from "./links.ts";
import type { ControllerMessage } from "./messages.ts";
import { errorResponse, type RequestRouter } from "./request_router.ts";

export interface ControllerStreamDeps {
  auth: ControllerAuthenticator;
  router: RequestRouter;
  metrics: RelayMetrics;
  logger: Logger;
  maxInFlight: number;
  /** Registers the stream under its principal so revocation can close it. */
  track: (principal: ControllerPrincipal, link: ControllerLink) => void;
  untrack: (link: ControllerLink) => void;
  /** Told about every answer in progress (routing and writing it), for shutdown. */
  trackAnswer: (answer: Promise<void>) => void;
}

export async function serveControllerLink(
  link: ControllerLink,
  deps: ControllerStreamDeps,
): Promise<void> {
  deps.metrics.activeStreams.inc({ kind: "controller" });
  const inFlight = new Set<Promise<void>>();
  let expiry: ReturnType<typeof setTimeout> | undefined;
  try {
    let streamPrincipal: ControllerPrincipal | undefined;
    if (link.bearerToken !== "") {
      streamPrincipal = await deps.auth.verify(link.bearerToken).catch(
        (error) => {
          deps.metrics.authFailures.inc({ principal: "controller" });
          throw error;
        },
      );
      deps.track(streamPrincipal, link);
      expiry = closeAtExpiry(link, streamPrincipal);
    }
    for await (const message of link.messages) {
      while (inFlight.size >= deps.maxInFlight) await Promise.race(inFlight);
      const task = answer(link, message, streamPrincipal, deps);
      deps.trackAnswer(task);
      inFlight.add(task);
      task.finally(() => inFlight.delete(task));
    }
    await Promise.all(inFlight);
    link.close();
  } catch (error) {
    const relayError = RelayError.from(error, "UNAVAILABLE");
    deps.logger.debug("controller stream ended", {
      remote: link.remoteAddress,
      code: relayError.code,
      reason: relayError.message,
    });
    link.close(relayError);
  } finally {
    clearTimeout(expiry);
    deps.untrack(link);
    deps.metrics.activeStreams.dec({ kind: "controller" });
  }
}

async function answer(
  link: ControllerLink,
  message: ControllerMessage,
  streamPrincipal: ControllerPrincipal | undefined,
  deps: ControllerStreamDeps,
): Promise<void> {
  let response;
  try {
    const principal = await principalFor(message, streamPrincipal, link, deps);
    response = await deps.router.route(principal, message, link.signal);
  } catch (error) {
    const relayError = RelayError.from(error);
    deps.metrics.requests.inc({ code: relayError.code });
    response = errorResponse(message, relayError);
  }
  if (link.signal.aborted) return;
  await link.send(response).catch(() => {
    // The stream is gone; nobody is left to answer.
  });
}

/** The credential is checked on every message that carries one. */
async function principalFor(
  message: ControllerMessage,
  streamPrincipal: ControllerPrincipal | undefined,
  link: ControllerLink,
  deps: ControllerStreamDeps,
): Promise<ControllerPrincipal> {
  let principal = streamPrincipal;
  if (message.token !== "" && message.token !== link.bearerToken) {
    try {
      principal = await deps.auth.verify(message.token);
    } catch (error) {
      deps.metrics.authFailures.inc({ principal: "controller" });
      throw error;
    }
    deps.track(principal, link);
  } else if (principal !== undefined) {
    principal = await deps.auth.verify(link.bearerToken); // revocation and expiry
  }
  if (principal === undefined) {
    throw new RelayError("UNAUTHORIZED", "missing controller token", {
      source: "downstream",
    });
  }
  if (
    message.controller_id !== "" &&
    message.controller_id !== principal.controllerId
  ) {
    throw new RelayError(
      "UNAUTHORIZED",
      "controller_id does not match the token",
      {
        source: "downstream",
      },
    );
  }
  return principal;
}

/** setTimeout's largest delay; longer-lived tokens are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** An expired principal's stream is closed, not just refused per request. */
function closeAtExpiry(
  link: ControllerLink,
  principal: ControllerPrincipal,
): ReturnType<typeof setTimeout> {
  const remaining = principal.expiresAt - Date.now();
  return setTimeout(() => {
    if (remaining > MAX_TIMER_MS) return; // far future: the stream will have ended
    link.close(
      new RelayError("UNAUTHORIZED", "controller token expired", {
        source: "downstream",
      }),
    );
  }, Math.max(0, Math.min(remaining, MAX_TIMER_MS)));
}
