// What the loss scenario measures through: one echo path per transport
// whose device link can be made lossy, however that is done (a network
// namespace for both transports, or a UDP forwarder for QUIC alone).
import type { EchoCall } from "./load_patterns.ts";
import type { Target } from "./scenario_runner.ts";

export interface LossCount {
  dropped: number;
  /** Packets (or datagrams) offered to the lossy link, dropped ones included. */
  offered: number;
}

export interface LossyPaths {
  /** How loss is applied, for the report (e.g. "netns+iptables"). */
  readonly method: string;
  readonly calls: Partial<Record<Target, EchoCall>>;
  /** Targets with no lossy path, and why. */
  readonly missing: Partial<Record<Target, string>>;
  /** Sets the loss of the device links (each way) and restarts the count. */
  setLoss(percent: number): Promise<void>;
  /** Drops and packets since the last `setLoss`. */
  count(): Promise<LossCount>;
  close(): Promise<void>;
}
