// The tunnel link and frame types, which the core owns (src/core/links.ts,
// src/core/messages.ts). Kept for transports/quic, which still imports them
// from here; new code imports the core's.
export type {
  TunnelFrame,
  TunnelFrame__Output,
  TunnelKind,
} from "../core/messages.ts";
export type { TunnelLink } from "../core/links.ts";
