// Transparent calls for devices another relay of the cluster holds, made
// again on that relay's gRPC port (src/core/peer_relays.ts): one grpc-js
// channel, so one HTTP/2 connection, per peer relay, shared by every call to
// it, over TLS that trusts the cluster's CA (the relays share one by
// configuration). A channel to a relay that left the cluster is closed
// within a sweep interval; all are closed when this relay stops.
import * as grpc from "@grpc/grpc-js";
import type { ForwardedCall, PeerRelays } from "../../src/core/peer_relays.ts";
import { RelayError } from "../../src/errors/relay_error.ts";
import type { GrpcClientCall } from "../../src/wire/grpc_call_types.ts";
import { channelCredentials } from "./channel_credentials.ts";
import { GRPC_RECONNECT_BACKOFF_MS } from "./grpc_connectors.ts";
import { STREAM_WINDOW_BYTES } from "./http2_servers.ts";
import { pingInRootContext } from "./keepalive_ping_context.ts";
import { toMetadata } from "./metadata_entries.ts";
import { rawClientCall } from "./raw_client_call.ts";
import { DEVICE_ID_METADATA, FORWARDED_METADATA } from "./relay_proto.ts";

export interface PeerRelayChannelsOptions {
  /** This relay's id, sent as the hop marker. */
  relayId: string;
  /** PEM of the cluster's CA; null: plaintext (this relay's TLS is off too). */
  caPem: string | null;
  /** gRPC addresses of the peer relays that still hold devices. */
  liveAddresses: () => Iterable<string>;
  /** How often channels to relays that left are closed (default 5 s). */
  sweepIntervalMs?: number;
}

const DEFAULT_SWEEP_INTERVAL_MS = 5000;

export class PeerRelayChannels implements PeerRelays {
  readonly #options: PeerRelayChannelsOptions;
  readonly #clients = new Map<string, grpc.Client>();
  readonly #sweep: ReturnType<typeof setInterval>;
  #closed = false;

  constructor(options: PeerRelayChannelsOptions) {
    this.#options = options;
    this.#sweep = setInterval(
      () => this.sweep(),
      options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS,
    );
  }

  /** Open channels (one per peer relay called since it joined). */
  get size(): number {
    return this.#clients.size;
  }

  call(call: ForwardedCall): GrpcClientCall {
    // The holder reads these as from any client; the device never sees them.
    const metadata = toMetadata(call.head.metadata);
    metadata.set("authorization", `Bearer ${call.bearerToken}`);
    metadata.set(DEVICE_ID_METADATA, call.deviceId);
    metadata.set(FORWARDED_METADATA, this.#options.relayId);
    return rawClientCall(
      this.#client(call.address),
      call.head,
      (details) =>
        `relay ${call.address}, which holds device ${call.deviceId}, is not reachable: ${details}`,
      metadata,
    );
  }

  /** Closes the channels to relays no longer in the cluster's view. */
  sweep(): void {
    const live = new Set(this.#options.liveAddresses());
    for (const [address, client] of this.#clients) {
      if (live.has(address)) continue;
      client.close();
      this.#clients.delete(address);
    }
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#sweep);
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }

  #client(address: string): grpc.Client {
    if (this.#closed) {
      throw new RelayError("UNAVAILABLE", "relay is shutting down");
    }
    let client = this.#clients.get(address);
    if (client !== undefined) return client;
    // Else each keepalive ping's async context keeps every earlier one alive.
    pingInRootContext();
    const { caPem } = this.#options;
    const { credentials, channelOptions } = channelCredentials(
      caPem === null ? { address, insecure: true } : { address, caPem },
    );
    client = new grpc.Client(address, credentials, {
      ...channelOptions,
      // Both relays bound message sizes on their own listeners.
      "grpc.max_receive_message_length": -1,
      "grpc.max_send_message_length": -1,
      // A restarted peer is reached again within this, not grpc-js's 120 s.
      "grpc.initial_reconnect_backoff_ms": GRPC_RECONNECT_BACKOFF_MS,
      "grpc.max_reconnect_backoff_ms": 1000,
      // A peer that vanished without a word is noticed while calls wait.
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_timeout_ms": 10_000,
      // This channel's connection is its own: closing it touches no other.
      "grpc.use_local_subchannel_pool": 1,
      "grpc-node.flow_control_window": STREAM_WINDOW_BYTES,
    });
    this.#clients.set(address, client);
    return client;
  }
}
