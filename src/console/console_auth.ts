// Who is asking: the console's API takes the controller JWT in the
// Authorization header (never in a URL) and verifies it exactly as the
// gRPC API does (ControllerAuthenticator: signature, issuer, audience,
// expiry, revocation), with the same blocking of addresses that keep failing
// and the same audit records.
import type {
  ControllerAuthenticator,
  ControllerPrincipal,
} from "../auth/controller_auth.ts";
import {
  controllerPrincipal,
  type Gatekeeper,
  type Peer,
} from "../core/gatekeeper.ts";
import { RelayError } from "../errors/relay_error.ts";

export interface ConsoleAuthDeps {
  auth: ControllerAuthenticator;
  gate: Gatekeeper;
}

export interface Authenticated {
  principal: ControllerPrincipal;
  /** Kept in memory only, to check revocation and expiry on a live stream. */
  token: string;
}

export async function authenticate(
  request: Request,
  peer: Peer,
  deps: ConsoleAuthDeps,
): Promise<Authenticated> {
  deps.gate.checkNotBlocked(peer);
  let token, principal;
  try {
    token = bearerToken(request.headers.get("authorization"));
    principal = await deps.auth.verify(token);
  } catch (error) {
    const reason = RelayError.from(error).message;
    deps.gate.authFailed(peer, "", reason, "controller");
    throw error;
  }
  deps.gate.authSucceeded(peer, controllerPrincipal(principal), principal.role);
  return { principal, token };
}

function bearerToken(header: string | null): string {
  if (header === null || header.trim() === "") {
    throw unauthorized(
      "missing Authorization header: send 'Authorization: Bearer <controller JWT>'",
    );
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match === null) {
    throw unauthorized(
      "Authorization header must be 'Bearer <controller JWT>'",
    );
  }
  return match[1]!;
}

function unauthorized(message: string): RelayError {
  return new RelayError("UNAUTHORIZED", message, { source: "downstream" });
}
