// Controller identity: HS256 JWTs verified with jose. Verified tokens are
// cached (bounded) so that checking the credential on every message is cheap;
// revocation is checked on every use.
import { jwtVerify, SignJWT } from "jose";
import { RelayError } from "../errors/relay_error.ts";
import { hashToken } from "./token_hash.ts";

export type Role = "admin" | "operator" | "viewer";
const ROLES: ReadonlySet<string> = new Set(["admin", "operator", "viewer"]);

export interface ControllerPrincipal {
  controllerId: string;
  role: Role;
  projects: readonly string[];
  tokenHash: string;
  /** Unix milliseconds. */
  expiresAt: number;
}

export interface JwtSettings {
  secret: string;
  issuer: string;
  audience: string;
  clockSkewSeconds: number;
}

export interface ControllerAuthOptions extends JwtSettings {
  isRevoked: (tokenHash: string) => boolean;
  now?: () => number;
  cacheSize?: number;
}

export class ControllerAuthenticator {
  readonly #key: Uint8Array;
  readonly #options: ControllerAuthOptions;
  readonly #now: () => number;
  readonly #cache = new Map<string, ControllerPrincipal>();
  readonly #cacheSize: number;

  constructor(options: ControllerAuthOptions) {
    this.#key = new TextEncoder().encode(options.secret);
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#cacheSize = options.cacheSize ?? 10_000;
  }

  async verify(token: string): Promise<ControllerPrincipal> {
    if (token === "") throw unauthorized("missing controller token");
    const cached = this.#cache.get(token);
    const principal = cached ?? await this.#verifyJwt(token);
    if (
      principal.expiresAt + this.#options.clockSkewSeconds * 1000 <= this.#now()
    ) {
      this.#cache.delete(token);
      throw unauthorized("controller token expired");
    }
    if (this.#options.isRevoked(principal.tokenHash)) {
      throw unauthorized("controller token revoked");
    }
    if (cached === undefined) this.#remember(token, principal);
    return principal;
  }

  async #verifyJwt(token: string): Promise<ControllerPrincipal> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.#key, {
        algorithms: ["HS256"],
        issuer: this.#options.issuer,
        audience: this.#options.audience,
        clockTolerance: this.#options.clockSkewSeconds,
        requiredClaims: ["sub", "exp"],
        currentDate: new Date(this.#now()),
      }));
    } catch (error) {
      throw unauthorized(
        `invalid controller token: ${(error as Error).message}`,
      );
    }
    const role = payload.role;
    if (typeof role !== "string" || !ROLES.has(role)) {
      throw unauthorized("controller token has no valid role claim");
    }
    const projects = payload.projects ?? payload.allowed_project_ids ?? [];
    if (
      !Array.isArray(projects) || projects.some((p) => typeof p !== "string")
    ) {
      throw unauthorized(
        "controller token projects claim must be a list of strings",
      );
    }
    const claimedId = payload.controller_id;
    if (claimedId !== undefined && claimedId !== payload.sub) {
      throw unauthorized("controller token controller_id differs from sub");
    }
    return {
      controllerId: payload.sub!,
      role: role as Role,
      projects,
      tokenHash: hashToken(token),
      expiresAt: payload.exp! * 1000,
    };
  }

  #remember(token: string, principal: ControllerPrincipal): void {
    if (this.#cache.size >= this.#cacheSize) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(token, principal);
  }
}

export interface MintOptions {
  controllerId: string;
  role: Role;
  projects?: readonly string[];
  ttlSeconds: number;
}

export function mintControllerToken(
  settings: JwtSettings,
  options: MintOptions,
): Promise<string> {
  return new SignJWT({
    controller_id: options.controllerId,
    role: options.role,
    projects: [...(options.projects ?? [])],
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(options.controllerId)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .setExpirationTime(Math.floor(Date.now() / 1000) + options.ttlSeconds)
    .sign(new TextEncoder().encode(settings.secret));
}

export function isRole(value: string): value is Role {
  return ROLES.has(value);
}

function unauthorized(message: string): RelayError {
  return new RelayError("UNAUTHORIZED", message, { source: "downstream" });
}
