// A fleet of echo devices on one transport, spread over device_worker.ts
// processes (many connections each), against one RelayProcess.
import type { RelayProcess } from "./relay_process.ts";
import { WorkerProcess } from "./worker_process.ts";

export type FleetTransport = "h2" | "quic";

export const DEVICE_PREFIX = "dev-";

export function deviceIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${DEVICE_PREFIX}${i}`);
}

/** First connects in flight per worker process, unless a fleet says otherwise. */
export const RAMP_CONCURRENCY = 10;

export interface FleetOptions {
  relay: RelayProcess;
  transport: FleetTransport;
  devices: number;
  devicesPerProcess: number;
  /** Index of the fleet's first device id (default 0): fleets on two transports share one relay. */
  firstDevice?: number;
  /** First connects in flight per worker process (default RAMP_CONCURRENCY). */
  rampConcurrency?: number;
}

export class DeviceFleet {
  readonly #workers: WorkerProcess[];
  readonly devices: number;

  private constructor(workers: WorkerProcess[], devices: number) {
    this.#workers = workers;
    this.devices = devices;
  }

  /** Spawns the workers; each starts `rampConcurrency` devices at a time. */
  static start(options: FleetOptions): DeviceFleet {
    const { relay, transport, devices, devicesPerProcess } = options;
    const ca = relay.endpoints.caFile;
    const first = options.firstDevice ?? 0;
    const workers: WorkerProcess[] = [];
    for (let from = 0; from < devices; from += devicesPerProcess) {
      workers.push(
        new WorkerProcess("./device_worker.ts", [
          `--transport=${transport}`,
          `--grpc=${relay.endpoints.grpcAddress}`,
          `--quic=${relay.endpoints.quicAddress}`,
          `--ca=${ca}`,
          `--credentials=${relay.endpoints.credentialsFile}`,
          `--prefix=${DEVICE_PREFIX}`,
          `--from=${first + from}`,
          `--count=${Math.min(devicesPerProcess, devices - from)}`,
          `--ramp-concurrency=${options.rampConcurrency ?? RAMP_CONCURRENCY}`,
        ], { v8Flags: ["--expose-gc"] }),
      );
    }
    return new DeviceFleet(workers, devices);
  }

  /** Devices connected right now, as the workers last reported. */
  connected(): number {
    return this.#sumOfStatus("connected");
  }

  /** Connects so far, first ones included (a reconnect adds one). */
  connects(): number {
    return this.#sumOfStatus("connects");
  }

  #sumOfStatus(field: "connected" | "connects"): number {
    return this.#workers.reduce(
      (sum, worker) => sum + Number(worker.latest.get("status")?.[field] ?? 0),
      0,
    );
  }

  /** Why connections ended or were refused, by message, over all workers. */
  errors(): Record<string, number> {
    const total: Record<string, number> = {};
    for (const worker of this.#workers) {
      const errors = worker.latest.get("status")?.errors ?? {};
      for (const [reason, n] of Object.entries(errors)) {
        total[reason] = (total[reason] ?? 0) + Number(n);
      }
    }
    return total;
  }

  /**
   * Resolves once all devices are connected and at least `connects` connects
   * happened (to wait for reconnects: devices on QUIC may not have noticed
   * yet that their relay is gone, so "connected" alone says nothing).
   */
  async waitConnected(
    timeoutMs: number,
    connects = this.devices,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.connected() < this.devices || this.connects() < connects) {
      if (Date.now() > deadline) {
        throw new Error(
          `${this.connected()} of ${this.devices} devices connected, ${this.connects()} of ${connects} connects, after ${timeoutMs} ms; agent errors: ${
            JSON.stringify(this.errors())
          }`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Wall-clock time (epoch ms) of each device's latest connect. */
  async connectTimes(): Promise<number[]> {
    const answers = await Promise.all(this.#workers.map(async (worker) => {
      worker.latest.delete("connect-times"); // only a fresh answer counts
      const waiting = worker.waitFor(
        (line) => line.type === "connect-times",
        10_000,
        "connect times",
      );
      await worker.send("connect-times");
      return (await waiting).times as number[];
    }));
    return answers.flat();
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => worker.close()));
  }
}
