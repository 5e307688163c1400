// RBAC: admin reaches every device; operator the devices of its projects and
// may send; viewer may only list its projects' devices.
import type { ControllerPrincipal } from "./controller_auth.ts";

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
