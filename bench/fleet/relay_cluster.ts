// A relay cluster of OS processes: a 3-node nats-server cluster
// (test/cluster/nats_cluster.ts) and relays as RelayProcess, each with its
// own relay.id, every NATS URL (so a relay fails over when its node dies),
// one controller token secret and one dev CA (the first relay's, copied into
// the others' state directories), devices registered in the cluster's state
// as `relay token device` does in cluster mode. For the cluster's failure
// tests and the bench's cluster scenario.
import { ClusterState } from "../../src/cluster/cluster_state.ts";
import type { ClientTransportOptions } from "../../src/cli/wiring.ts";
import { NatsCluster } from "../../test/cluster/nats_cluster.ts";
import { RelayProcess } from "./relay_process.ts";

export interface RelayClusterOptions {
  /** Relays (default 3). */
  relays?: number;
  /** Dotted config keys for every relay (over the cluster's own). */
  config?: Record<string, unknown>;
  /** Devices to register in the cluster's state. */
  deviceIds?: readonly string[];
  /** How long a relay's graceful stop (a drain) may take before SIGKILL. */
  stopTimeoutMs?: number;
}

/** What a start attempt waits for /health to say 200 (after "listening"). */
const HEALTHY_TIMEOUT_MS = 10_000;

export class RelayCluster {
  readonly nats: NatsCluster;
  readonly relays: RelayProcess[] = [];
  /** Each registered device's credential. */
  readonly credentials: Record<string, string> = {};

  private constructor(nats: NatsCluster) {
    this.nats = nats;
  }

  static async start(
    natsServer: string,
    options: RelayClusterOptions = {},
  ): Promise<RelayCluster> {
    const cluster = new RelayCluster(await NatsCluster.start(natsServer));
    try {
      const secret = btoa(
        String.fromCharCode(...crypto.getRandomValues(new Uint8Array(48))),
      );
      for (let index = 0; index < (options.relays ?? 3); index++) {
        cluster.relays.push(
          await RelayProcess.start({
            config: {
              "relay.id": `relay-${index}`,
              "relay.cluster.nats_url": cluster.nats.urls.join(","),
              "relay.auth.jwt.hs256_secret": secret,
              ...options.config,
            },
            ...(index > 0
              ? { caFromStateDir: cluster.relays[0]!.stateDir }
              : {}),
            ...(options.stopTimeoutMs !== undefined
              ? { stopTimeoutMs: options.stopTimeoutMs }
              : {}),
          }),
        );
      }
      const state = await ClusterState.open({ servers: cluster.nats.urls });
      try {
        for (const deviceId of options.deviceIds ?? []) {
          cluster.credentials[deviceId] = await state.registerDevice(
            deviceId,
            "default",
          );
        }
      } finally {
        await state.close();
      }
      return cluster;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  /** An admin token every relay accepts (one secret). */
  get adminToken(): string {
    return this.relays[0]!.endpoints.adminToken;
  }

  get caPem(): string {
    return this.relays[0]!.endpoints.caPem;
  }

  /**
   * Client options naming the relays `relays` in that order (a device that
   * knows several tries them in turn; a controller uses the first).
   */
  clientOptions(
    transport: "h2" | "quic",
    relays: readonly number[] = [0],
  ): ClientTransportOptions {
    const chosen = relays.map((index) => this.relays[index]!.endpoints);
    return {
      address: chosen.map((relay) => relay.grpcAddress).join(","),
      quicAddress: chosen.map((relay) => relay.quicAddress).join(","),
      caPem: this.caPem,
      transport,
    };
  }

  /** Every relay, starting with `first` (a device's list of relays). */
  ordered(first: number): number[] {
    return this.relays.map((_, index) => (first + index) % this.relays.length);
  }

  /** Resolves once relay `index` answers 200 on /health (joined the cluster). */
  async waitHealthy(index: number, timeoutMs = HEALTHY_TIMEOUT_MS) {
    const url = `${this.relays[index]!.endpoints.healthUrl}/health`;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const status = await fetch(url).then(async (response) => {
        await response.body?.cancel();
        return response.status;
      }, () => 0);
      if (status === 200) return;
      if (performance.now() > deadline) {
        throw new Error(`relay-${index} not healthy within ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async close(): Promise<void> {
    for (const relay of this.relays) await relay.close();
    await this.nats.close();
  }
}
