// The store a relay (or `relay token device`) uses: the cluster's shared
// state on NATS when relay.cluster.nats_url is set, else the SQLite store in
// the state directory.
import type { RelayConfig } from "../config/config_schema.ts";
import type { FleetStore, FleetStoreChange } from "../store/fleet_store.ts";
import { RelayStore } from "../store/relay_store.ts";
import { ClusterState } from "./cluster_state.ts";
import { natsSecurity } from "./nats_options.ts";

export interface OpenedFleetStore {
  store: FleetStore & {
    /** Registers (or re-keys) a device; its new credential, shown once. */
    registerDevice(deviceId: string, project: string): string | Promise<string>;
  };
  /** The cluster's state, whose NATS connection the cluster's other parts share; undefined alone. */
  cluster: ClusterState | undefined;
  close(): Promise<void>;
}

export async function openFleetStore(
  config: RelayConfig,
  databasePath: string,
  onChange?: (change: FleetStoreChange) => void,
): Promise<OpenedFleetStore> {
  const cluster = config.relay.cluster;
  if (cluster.nats_url === "") {
    const store = new RelayStore(databasePath);
    return {
      store,
      cluster: undefined,
      close: () => Promise.resolve(store.close()),
    };
  }
  const store = await ClusterState.open({
    servers: cluster.nats_url.split(","),
    bucket: cluster.bucket,
    replicas: cluster.replicas,
    name: config.relay.id,
    security: await natsSecurity(cluster),
    ...(onChange ? { onChange } : {}),
  });
  return { store, cluster: store, close: () => store.close() };
}
