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
import { controllerPrincipal, type Gatekeeper } from "./gatekeeper.ts";
import type { ControllerLink } from "./links.ts";
import type { ControllerMessage } from "./messages.ts";
import { errorResponse, type RequestRouter } from "./request_router.ts";

export interface ControllerStreamDeps {
  auth: ControllerAuthenticator;
  router: RequestRouter;
  metrics: RelayMetrics;
  logger: Logger;
  gate: Gatekeeper;
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
    deps.gate.checkNotBlocked(link);
    let streamPrincipal: ControllerPrincipal | undefined;
    if (link.bearerToken !== "") {
      streamPrincipal = await verifyOrAudit(link.bearerToken, link, deps);
      deps.gate.admitControllerStream(link, streamPrincipal);
      deps.track(streamPrincipal, link);
      expiry = closeAtExpiry(link, deps.auth.validUntil(streamPrincipal));
    }
    const state: StreamState = {
      streamPrincipal,
      admitted: streamPrincipal !== undefined,
      authFailures: 0,
      auditedTokens: new Set(
        streamPrincipal ? [streamPrincipal.tokenHash] : [],
      ),
    };
    for await (const message of link.messages) {
      while (inFlight.size >= deps.maxInFlight) await Promise.race(inFlight);
      const task = answer(link, message, state, deps);
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

/** A stream whose messages keep failing authentication is closed after this many. */
const MAX_AUTH_FAILURES_PER_STREAM = 3;

interface StreamState {
  /** From the stream's bearer token, if it had one. */
  streamPrincipal: ControllerPrincipal | undefined;
  /** Whether the stream passed the controller stream rate limit. */
  admitted: boolean;
  authFailures: number;
  /** Token hashes whose successful use this stream has audited already. */
  auditedTokens: Set<string>;
}

async function answer(
  link: ControllerLink,
  message: ControllerMessage,
  state: StreamState,
  deps: ControllerStreamDeps,
): Promise<void> {
  let response;
  try {
    const principal = await principalFor(message, state, link, deps);
    response = await deps.router.route(principal, message, link);
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
  state: StreamState,
  link: ControllerLink,
  deps: ControllerStreamDeps,
): Promise<ControllerPrincipal> {
  let principal = state.streamPrincipal;
  try {
    if (message.token !== "" && message.token !== link.bearerToken) {
      principal = await verifyOrAudit(message.token, link, deps, state);
      deps.track(principal, link);
    } else if (principal !== undefined) {
      principal = await deps.auth.verify(link.bearerToken); // revocation and expiry
    }
  } catch (error) {
    if (++state.authFailures >= MAX_AUTH_FAILURES_PER_STREAM) {
      link.close(
        new RelayError(
          "UNAUTHORIZED",
          "too many failed authentications on this stream",
          { source: "downstream" },
        ),
      );
    }
    throw error;
  }
  if (principal === undefined) {
    deps.gate.authFailed(link, "", "missing controller token", "controller");
    throw new RelayError("UNAUTHORIZED", "missing controller token", {
      source: "downstream",
    });
  }
  if (!state.admitted) {
    // Streams authenticated per message pass the stream limit on their first one.
    deps.gate.admitControllerStream(link, principal);
    state.admitted = true;
  }
  if (
    message.controller_id !== "" &&
    message.controller_id !== principal.controllerId
  ) {
    deps.gate.authFailed(
      link,
      controllerPrincipal(principal),
      "controller_id does not match the token",
    );
    throw new RelayError(
      "UNAUTHORIZED",
      "controller_id does not match the token",
      { source: "downstream" },
    );
  }
  return principal;
}

/** Verifies a token and audits the outcome (a success once per token and stream). */
async function verifyOrAudit(
  token: string,
  link: ControllerLink,
  deps: ControllerStreamDeps,
  state?: StreamState,
): Promise<ControllerPrincipal> {
  let principal;
  try {
    principal = await deps.auth.verify(token);
  } catch (error) {
    deps.gate.authFailed(
      link,
      "",
      RelayError.from(error).message,
      "controller",
    );
    throw error;
  }
  if (!state?.auditedTokens.has(principal.tokenHash)) {
    state?.auditedTokens.add(principal.tokenHash);
    deps.gate.authSucceeded(
      link,
      controllerPrincipal(principal),
      principal.role,
    );
  }
  return principal;
}

/** setTimeout's largest delay; longer-lived tokens are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** An expired principal's stream is closed, not just refused per request. */
function closeAtExpiry(
  link: ControllerLink,
  validUntil: number,
): ReturnType<typeof setTimeout> {
  const remaining = validUntil - Date.now();
  return setTimeout(() => {
    if (remaining > MAX_TIMER_MS) return; // far future: the stream will have ended
    link.close(
      new RelayError("UNAUTHORIZED", "controller token expired", {
        source: "downstream",
      }),
    );
  }, Math.max(0, Math.min(remaining, MAX_TIMER_MS)));
}
