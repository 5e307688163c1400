// Controller identity: JWTs verified with jose against pinned keys (HS256
// secret, PEM public keys, JWKS). Verified tokens are cached (bounded) so
// that checking the credential on every message is cheap; expiry and
// revocation (by token hash or `jti`) are checked on every use. Expired
// tokens leave the cache by a scan at most once a minute, not only when
// their own token comes again or the bound pushes them out.
import { jwtVerify, SignJWT } from "jose";
import { RelayError } from "../errors/relay_error.ts";
import type { JwtKeys } from "./jwt_keys.ts";
import { hashToken } from "./token_hash.ts";

export type Role = "admin" | "operator" | "viewer";
const ROLES: ReadonlySet<string> = new Set(["admin", "operator", "viewer"]);
const CONTROLLER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@\/-]{0,127}$/;
const MAX_TOKEN_LENGTH = 8 * 1024;
/** How often verify scans the cache for expired tokens (a scan of at most cacheSize). */
const CACHE_SWEEP_MS = 60_000;

export interface ControllerPrincipal {
  controllerId: string;
  role: Role;
  projects: readonly string[];
  tokenHash: string;
  /** The token's `jti` claim, "" when it has none. */
  jti: string;
  /** Unix milliseconds. */
  expiresAt: number;
}

export interface JwtSettings {
  secret: string;
  issuer: string;
  audience: string;
  clockSkewSeconds: number;
}

export interface ControllerAuthOptions {
  keys: JwtKeys;
  issuer: string;
  audience: string;
  clockSkewSeconds: number;
  isRevoked: (principal: ControllerPrincipal) => boolean;
  now?: () => number;
  cacheSize?: number;
}

export class ControllerAuthenticator {
  readonly #options: ControllerAuthOptions;
  readonly #now: () => number;
  readonly #cache = new Map<string, ControllerPrincipal>();
  readonly #cacheSize: number;
  #nextSweep = 0;

  constructor(options: ControllerAuthOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#cacheSize = options.cacheSize ?? 10_000;
  }

  /** Verified tokens held. */
  get cached(): number {
    return this.#cache.size;
  }

  /** Unix milliseconds after which the principal's token is refused (expiry plus skew). */
  validUntil(principal: ControllerPrincipal): number {
    return principal.expiresAt + this.#options.clockSkewSeconds * 1000;
  }

  async verify(token: string): Promise<ControllerPrincipal> {
    if (token === "") throw unauthorized("missing controller token");
    if (token.length > MAX_TOKEN_LENGTH) {
      throw unauthorized(
        `controller token longer than ${MAX_TOKEN_LENGTH} characters`,
      );
    }
    this.#sweep();
    const cached = this.#cache.get(token);
    const principal = cached ?? await this.#verifyJwt(token);
    if (this.validUntil(principal) <= this.#now()) {
      this.#cache.delete(token);
      throw unauthorized("controller token expired");
    }
    if (this.#options.isRevoked(principal)) {
      throw unauthorized("controller token revoked");
    }
    if (cached === undefined) this.#remember(token, principal);
    return principal;
  }

  async #verifyJwt(token: string): Promise<ControllerPrincipal> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.#options.keys.resolve, {
        algorithms: [...this.#options.keys.algorithms],
        issuer: this.#options.issuer,
        audience: this.#options.audience,
        clockTolerance: this.#options.clockSkewSeconds,
        requiredClaims: ["sub", "exp", "iss", "aud", "role"],
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
    const projects = payload.projects ?? payload.allowed_project_ids;
    if (
      !Array.isArray(projects) || projects.some((p) => typeof p !== "string")
    ) {
      throw unauthorized(
        "controller token needs a projects claim: a list of project names",
      );
    }
    const controllerId = payload.sub!;
    if (!CONTROLLER_ID_PATTERN.test(controllerId)) {
      throw unauthorized(
        "controller token sub must be 1-128 letters, digits or . _ : @ / -",
      );
    }
    const claimedId = payload.controller_id;
    if (claimedId !== undefined && claimedId !== controllerId) {
      throw unauthorized("controller token controller_id differs from sub");
    }
    return {
      controllerId,
      role: role as Role,
      projects,
      tokenHash: hashToken(token),
      jti: typeof payload.jti === "string" ? payload.jti : "",
      expiresAt: payload.exp! * 1000,
    };
  }

  /** Drops expired tokens; their expiries differ, so this is a scan, done rarely. */
  #sweep(): void {
    const now = this.#now();
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + CACHE_SWEEP_MS;
    for (const [token, principal] of this.#cache) {
      if (this.validUntil(principal) <= now) this.#cache.delete(token);
    }
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
