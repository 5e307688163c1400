// A device agent (in this process) for the cluster's failure tests and bench:
// it echoes, counts how often its handler ran per payload (a request run
// twice is a duplicate), and keeps its state changes with their times (how
// long it was away from every relay).
import { deviceConnector } from "../../mod.ts";
import type { ClientTransportOptions } from "../../src/cli/wiring.ts";
import { type AgentState, DeviceAgent } from "../../src/sdk/device_agent.ts";

export interface CountingDeviceOptions {
  deviceId: string;
  token: string;
  /** The relays it knows (comma-separated addresses) and its transport. */
  relays: ClientTransportOptions;
  /** Reconnect pauses (default 50-250 ms). */
  backoff?: { initialMs: number; maxMs: number };
}

export class CountingDevice {
  readonly deviceId: string;
  readonly agent: DeviceAgent;
  /** Handler runs per request payload. */
  readonly runs = new Map<string, number>();
  /** Every state change, at performance.now(). */
  readonly states: { state: AgentState; at: number }[] = [];

  private constructor(options: CountingDeviceOptions) {
    this.deviceId = options.deviceId;
    this.agent = new DeviceAgent({
      connector: deviceConnector(options.relays),
      deviceId: options.deviceId,
      token: options.token,
      allowPlaintext: true,
      backoff: options.backoff ?? { initialMs: 50, maxMs: 250 },
    });
    this.agent.onState(({ state }) =>
      this.states.push({ state, at: performance.now() })
    );
    this.agent.handle("*", ({ payload }) => {
      const key = new TextDecoder().decode(payload);
      this.runs.set(key, (this.runs.get(key) ?? 0) + 1);
      return payload;
    });
  }

  /** Starts the agent; resolves once it is connected. */
  static async start(options: CountingDeviceOptions): Promise<CountingDevice> {
    const device = new CountingDevice(options);
    const connected = device.agent.waitFor("connected");
    device.agent.start();
    await connected;
    return device;
  }

  /** The first time it was connected again after `since` (NaN: not yet). */
  connectedAfter(since: number): number {
    return this.states.find(({ state, at }) =>
      state === "connected" && at > since
    )?.at ?? NaN;
  }

  /** The longest time it spent not connected between `from` and `to`. */
  longestAwayMs(from: number, to: number): number {
    let longest = 0;
    let awaySince: number | undefined;
    for (const { state, at } of this.states) {
      if (at < from || at > to) continue;
      if (state !== "connected") awaySince ??= at;
      else if (awaySince !== undefined) {
        longest = Math.max(longest, at - awaySince);
        awaySince = undefined;
      }
    }
    if (awaySince !== undefined) longest = Math.max(longest, to - awaySince);
    return longest;
  }

  /** Payloads whose handler ran more than once. */
  duplicates(): string[] {
    return [...this.runs].filter(([, runs]) => runs > 1).map(([key]) => key);
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
