// RBAC: admin reaches every device; operator the devices of its projects and
// may send; viewer may only list its projects' devices. Sending roles may be
// further limited to method names matching glob patterns.
import type { RelayConfig } from "../config/config_schema.ts";
import type { ControllerPrincipal, Role } from "./controller_auth.ts";

export function canSee(
  principal: ControllerPrincipal,
  deviceProject: string,
): boolean {
  return principal.role === "admin" ||
    principal.projects.includes(deviceProject);
}

export function canSend(
  principal: ControllerPrincipal,
  deviceProject: string,
): boolean {
  return principal.role !== "viewer" && canSee(principal, deviceProject);
}

export function canRevoke(principal: ControllerPrincipal): boolean {
  return principal.role === "admin";
}

/** Draining a relay is an admin's act too. */
export const canDrain = canRevoke;

/** Per-role allow-lists of method names (`*` any run of characters, `?` one). */
export class MethodPolicy {
  readonly #allowed: ReadonlyMap<Role, RegExp>;

  constructor(roles: RelayConfig["relay"]["auth"]["roles"]) {
    this.#allowed = new Map<Role, RegExp>([
      ["admin", globsToRegExp(roles.admin.allowed_methods)],
      ["operator", globsToRegExp(roles.operator.allowed_methods)],
    ]);
  }

  allows(role: Role, method: string): boolean {
    return this.#allowed.get(role)?.test(method) ?? false;
  }
}

function globsToRegExp(patterns: readonly string[]): RegExp {
  const alternatives = patterns.map((pattern) =>
    pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")
      .replace(/\?/g, ".")
  );
  // No patterns: nothing is allowed.
  return new RegExp(`^(?:${alternatives.join("|") || "(?!)"})$`, "s");
}
