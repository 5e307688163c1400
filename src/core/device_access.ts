// Who may call which device, for the envelope path (ConnectToDevice) and
// transparent gRPC calls alike: the device must be visible to the caller
// (admins see all, others their projects' devices), the role must be allowed
// to send, and the method must pass the role's allow-list.
import { canSee, canSend, type MethodPolicy } from "../auth/access_policy.ts";
import type { ControllerPrincipal } from "../auth/controller_auth.ts";
import { RelayError } from "../errors/relay_error.ts";

/**
 * Throws unless `principal` may call `method` on a device of `project`
 * (undefined: no such device). `hidden` is the error for a device the caller
 * may not see, the same as for one that does not exist.
 */
export function authorizeDeviceCall(
  principal: ControllerPrincipal,
  project: string | undefined,
  method: string,
  { policy, hidden }: { policy: MethodPolicy; hidden: () => RelayError },
): void {
  if (project === undefined || !canSee(principal, project)) throw hidden();
  if (!canSend(principal, project)) {
    throw new RelayError(
      "PERMISSION_DENIED",
      `role ${principal.role} may not send requests`,
      { source: "downstream" },
    );
  }
  if (!policy.allows(principal.role, method)) {
    throw new RelayError(
      "PERMISSION_DENIED",
      `role ${principal.role} may not call method ${method}`,
      { source: "downstream" },
    );
  }
}
