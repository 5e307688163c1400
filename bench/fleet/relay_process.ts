// The relay as its own OS process: `src/main.ts serve` with a generated YAML
// config, TLS (dev PKI in a temporary state directory) and fixed loopback
// ports chosen up front, so it can be SIGKILLed and restarted on the same
// addresses and state. Devices are registered in its store before it starts;
// their credentials go to a JSON file that device workers read. The one
// fixture for this: the fleet bench and the tests that crash the relay
// (test/relay_crash_*_test.ts, test/mqtt_mosquitto_test.ts) all use it.
import type { HistogramBuckets } from "../latency_stats.ts";
import { stringify } from "yaml";
import { RelayStore } from "../../src/store/relay_store.ts";
import { freeTcpPort, freeUdpPort } from "./free_ports.ts";
import { type ProcessSample, sampleProcess } from "./process_stats.ts";

const REPO_ROOT = new URL("../../", import.meta.url);
const MAIN = new URL("src/main.ts", REPO_ROOT).pathname;
/**
 * What `relay serve` prints once every listener is up: "relay ID listening
 * on ...", not V8's "Debugger listening on ws://..." that comes first with
 * `inspect`, before the relay has written its PKI.
 */
const LISTENING_LINE = /relay \S+ listening on /;
/** How long a graceful stop may take before the process is killed, by default. */
const STOP_TIMEOUT_MS = 5000;
/** Lines of the relay's stderr kept for error messages. */
const STDERR_TAIL_LINES = 40;

/** Open files allowed in the relay and worker processes (one per TCP connection). */
export const FD_LIMIT = 20_000;

/** The settings every bench relay runs with (documented in the report). */
export const BENCH_RELAY_SETTINGS: Readonly<Record<string, unknown>> = {
  "observability.logging.level": "warn",
  "relay.mqtt.embedded_address": "127.0.0.1:0",
  "relay.max_device_connections": 20_000,
  // A few controllers drive many devices, far past the per-caller request
  // limits meant for one client; the global buckets (and their cost) stay on.
  "relay.rate_limits.requests.device": { per_second: 0, burst: 1 },
  "relay.rate_limits.requests.controller": { per_second: 0, burst: 1 },
  "relay.rate_limits.connections.controller": { per_second: 0, burst: 1 },
};

export interface RelayProcessOptions {
  /** Extra dotted config keys, over BENCH_RELAY_SETTINGS. */
  config?: Record<string, unknown>;
  /** Device ids to register before the first start. */
  deviceIds?: readonly string[];
  /** How long a start may take before it counts as failed (default 30 s). */
  startTimeoutMs?: number;
  /** Opens the V8 inspector on a loopback port (for RelayProfiler). */
  inspect?: boolean;
  /**
   * A state directory whose dev CA (ca.pem, ca-key.pem) this relay issues
   * its certificate from: relays of one cluster share one CA.
   */
  caFromStateDir?: string;
  /** How long a graceful stop may take before SIGKILL (default 5 s; a drain takes longer). */
  stopTimeoutMs?: number;
}

export interface RelayEndpoints {
  grpcAddress: string;
  quicAddress: string;
  healthUrl: string;
  caPem: string;
  /** An admin controller token (the dev token in the state directory). */
  adminToken: string;
  /** JSON file: { [deviceId]: credential }. */
  credentialsFile: string;
  /** PEM files of the dev PKI (the CA, and the relay's certificate and key). */
  caFile: string;
  certFile: string;
  keyFile: string;
}

export class RelayProcess {
  readonly #options: RelayProcessOptions;
  readonly #stateDir: string;
  readonly #configFile: string;
  readonly endpoints: RelayEndpoints;
  /** The inspector port when started with `inspect`. */
  readonly inspectPort: number | undefined;
  readonly #credentials: Record<string, string> = {};
  #child: Deno.ChildProcess | undefined;
  #stderrTail: string[] = [];
  #listeningAt = NaN;

  private constructor(options: RelayProcessOptions, stateDir: string) {
    this.#options = options;
    this.#stateDir = stateDir;
    this.#configFile = `${stateDir}/relay.yaml`;
    const grpcPort = freeTcpPort();
    const quicPort = freeUdpPort();
    const healthPort = freeTcpPort();
    this.inspectPort = options.inspect ? freeTcpPort() : undefined;
    this.endpoints = {
      grpcAddress: `127.0.0.1:${grpcPort}`,
      quicAddress: `127.0.0.1:${quicPort}`,
      healthUrl: `http://127.0.0.1:${healthPort}`,
      caPem: "",
      adminToken: "",
      credentialsFile: `${stateDir}/device-credentials.json`,
      caFile: `${stateDir}/ca.pem`,
      certFile: `${stateDir}/server.pem`,
      keyFile: `${stateDir}/server-key.pem`,
    };
  }

  /** Writes the config, registers the devices and starts the relay. */
  static async start(options: RelayProcessOptions = {}): Promise<RelayProcess> {
    const stateDir = await Deno.makeTempDir({ prefix: "relay-process-" });
    const relay = new RelayProcess(options, stateDir);
    try {
      await relay.#prepare();
      await relay.restart();
      return relay;
    } catch (error) {
      await relay.close();
      throw error;
    }
  }

  get pid(): number {
    if (!this.#child) throw new Error("the relay process is not running");
    return this.#child.pid;
  }

  /** The running relay process's exit status, once it ends. */
  get exited(): Promise<Deno.CommandStatus> {
    if (!this.#child) throw new Error("the relay process is not running");
    return this.#child.status;
  }

  /** The state directory (store, dev PKI, admin token); kept across restarts. */
  get stateDir(): string {
    return this.#stateDir;
  }

  /** The credential of each device in `deviceIds` (also in credentialsFile). */
  get credentials(): Readonly<Record<string, string>> {
    return this.#credentials;
  }

  /**
   * performance.now() when the latest start printed its "listening on" line
   * (every listener up), as read from its stderr.
   */
  get listeningAt(): number {
    return this.#listeningAt;
  }

  /** The relay's last lines on stderr, for error messages. */
  get stderrTail(): string {
    return this.#stderrTail.join("\n");
  }

  /** Resource use now; names the relay's last words if it has died. */
  async sample(): Promise<ProcessSample> {
    try {
      return await sampleProcess(this.pid);
    } catch (error) {
      throw new Error(
        `the relay process is gone:\n${this.stderrTail}`,
        { cause: error },
      );
    }
  }

  async #metrics(): Promise<string> {
    return await (await fetch(`${this.endpoints.healthUrl}/metrics`)).text();
  }

  /** Heap and RSS as the relay reports them on /metrics. */
  async memory(): Promise<Record<string, number>> {
    const text = await this.#metrics();
    const memory: Record<string, number> = {};
    for (
      const match of text.matchAll(
        /^relay_process_memory_bytes\{area="(\w+)"\} (\d+)/gm,
      )
    ) {
      memory[match[1]!] = Number(match[2]);
    }
    return memory;
  }

  /** An unlabelled histogram on /metrics, as cumulative bucket counts. */
  async histogram(name: string): Promise<HistogramBuckets> {
    const buckets: HistogramBuckets = [];
    const pattern = new RegExp(
      `^${name}_bucket\\{le="([^"]+)"\\} (\\d+)`,
      "gm",
    );
    for (const match of (await this.#metrics()).matchAll(pattern)) {
      const le = match[1] === "+Inf" ? Infinity : Number(match[1]);
      buckets.push({ le, count: Number(match[2]) });
    }
    return buckets;
  }

  /** SIGKILL: no graceful shutdown, as in a crash. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    signal(child, "SIGKILL");
    await child.status;
  }

  /**
   * SIGTERM: the relay's graceful shutdown, a drain in a cluster (SIGKILL if
   * it takes longer than stopTimeoutMs). The state directory stays, for a
   * restart.
   */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    signal(child, "SIGTERM");
    const forced = setTimeout(
      () => signal(child, "SIGKILL"),
      this.#options.stopTimeoutMs ?? STOP_TIMEOUT_MS,
    );
    await child.status;
    clearTimeout(forced);
  }

  /**
   * Starts (again) on the same ports and state; resolves once it prints that
   * it listens (see listeningAt).
   */
  async restart(): Promise<void> {
    if (this.#child) throw new Error("the relay process is already running");
    const command = new Deno.Command("sh", {
      args: [
        "-c",
        `ulimit -n ${FD_LIMIT} && exec "$@"`,
        "sh",
        Deno.execPath(),
        "run",
        "--allow-all",
        ...(this.inspectPort
          ? [`--inspect=127.0.0.1:${this.inspectPort}`]
          : []),
        MAIN,
        "serve",
        "--config",
        this.#configFile,
      ],
      cwd: REPO_ROOT,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    });
    const child = command.spawn();
    this.#child = child;
    const listening = this.#readStderr(child.stderr);
    const timeoutMs = this.#options.startTimeoutMs ?? 30_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      listening.then(() => "listening" as const),
      child.status.then(() => "exited" as const),
      new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (outcome === "listening") {
      this.endpoints.caPem ||= await Deno.readTextFile(this.endpoints.caFile);
      this.endpoints.adminToken ||=
        (await Deno.readTextFile(`${this.#stateDir}/admin.token`)).trim();
      return;
    }
    if (outcome === "exited") {
      this.#child = undefined;
      throw new Error(`the relay exited at start:\n${this.stderrTail}`);
    }
    await this.kill();
    throw new Error(
      `the relay did not listen within ${timeoutMs} ms:\n${this.stderrTail}`,
    );
  }

  /** Stops the relay (gracefully) and removes its state directory. */
  async close(): Promise<void> {
    await this.stop();
    await Deno.remove(this.#stateDir, { recursive: true }).catch(() => {});
  }

  async #prepare(): Promise<void> {
    const config = {
      ...BENCH_RELAY_SETTINGS,
      ...this.#options.config,
      "relay.address": this.endpoints.grpcAddress,
      "relay.quic_address": this.endpoints.quicAddress,
      "relay.state_dir": this.#stateDir,
      "observability.health.address": this.endpoints.healthUrl.replace(
        "http://",
        "",
      ),
    };
    await Deno.writeTextFile(this.#configFile, stringify(nest(config)));
    const caDir = this.#options.caFromStateDir;
    if (caDir !== undefined) {
      for (const file of ["ca.pem", "ca-key.pem"]) {
        await Deno.copyFile(`${caDir}/${file}`, `${this.#stateDir}/${file}`);
      }
    }
    const store = new RelayStore(`${this.#stateDir}/relay.db`);
    try {
      for (const deviceId of this.#options.deviceIds ?? []) {
        this.#credentials[deviceId] = store.registerDevice(deviceId, "default");
      }
    } finally {
      store.close();
    }
    await Deno.writeTextFile(
      this.endpoints.credentialsFile,
      JSON.stringify(this.#credentials),
    );
  }

  /**
   * Reads the child's stderr to its end (so it never blocks on a full pipe),
   * keeping the last lines; resolves when the "listening" line comes.
   */
  #readStderr(stream: ReadableStream<Uint8Array>): Promise<void> {
    const listening = Promise.withResolvers<void>();
    (async () => {
      let partial = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        const lines = (partial + chunk).split("\n");
        partial = lines.pop()!;
        for (const line of lines) {
          if (LISTENING_LINE.test(line)) {
            this.#listeningAt = performance.now();
            listening.resolve();
          }
        }
        this.#stderrTail.push(...lines);
        this.#stderrTail = this.#stderrTail.slice(-STDERR_TAIL_LINES);
      }
    })().catch((error: unknown) => {
      // The pipe broke with the process; keep its last words with the reason.
      this.#stderrTail.push(`(stderr: ${error})`);
    });
    return listening.promise;
  }
}

function signal(child: Deno.ChildProcess, name: Deno.Signal): void {
  try {
    child.kill(name);
  } catch (error) {
    // Only "it has already exited" is expected here.
    if (!(error instanceof TypeError)) throw error;
  }
}

/** { "a.b": 1 } → { a: { b: 1 } }. */
function nest(dotted: Record<string, unknown>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [path, value] of Object.entries(dotted)) {
    const keys = path.split(".");
    let node = root;
    for (const key of keys.slice(0, -1)) {
      node = (node[key] ??= {}) as Record<string, unknown>;
    }
    node[keys.at(-1)!] = value;
  }
  return root;
}
