// A NATS cluster for the relay cluster's tests: `nodes` nats-server processes
// (Debian's, JetStream on) on free loopback ports, routed to each other, each
// with its own store directory. SIGKILL one with kill(i); close() ends them
// all and removes their directories. Each node's monitoring port tells which
// node a client (a relay, by its connection name) is connected to.
const READY = /Server is ready/;
const START_TIMEOUT_MS = 10_000;
const START_ATTEMPTS = 3;

/** A free loopback TCP port (bound, then released for the server to take). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

interface Node {
  url: string;
  /** The node's HTTP monitoring endpoint (http://127.0.0.1:PORT). */
  monitorUrl: string;
  process: Deno.ChildProcess | undefined;
  log: string;
}

export class NatsCluster {
  readonly #nodes: Node[];
  readonly #dir: string;

  private constructor(nodes: Node[], dir: string) {
    this.#nodes = nodes;
    this.#dir = dir;
  }

  /** The running nodes' process ids (for CPU sampling). */
  get pids(): number[] {
    return this.#nodes.flatMap((node) =>
      node.process ? [node.process.pid] : []
    );
  }

  /** Client URLs, one per node (nats://127.0.0.1:PORT). */
  get urls(): string[] {
    return this.#nodes.map((node) => node.url);
  }

  /**
   * `extra`: more lines of each node's config (authorization, tls). A free
   * port can be taken by another test file between freePort() and the
   * server's bind (CI saw it once): then the cluster starts again on new ports.
   */
  static async start(
    binary: string,
    nodes = 3,
    extra: string[] = [],
  ): Promise<NatsCluster> {
    for (let attempt = 1;; attempt++) {
      try {
        return await NatsCluster.#startOnce(binary, nodes, extra);
      } catch (error) {
        const portTaken = String(error).includes("address already in use");
        if (!portTaken || attempt === START_ATTEMPTS) throw error;
      }
    }
  }

  static async #startOnce(
    binary: string,
    nodes: number,
    extra: string[],
  ): Promise<NatsCluster> {
    const dir = await Deno.makeTempDir({ prefix: "nats-cluster-" });
    const ports = Array.from({ length: nodes }, () => ({
      client: freePort(),
      route: freePort(),
      monitor: freePort(),
    }));
    const routes = ports.map(({ route }) => `nats://127.0.0.1:${route}`);
    const started: Node[] = [];
    const cluster = new NatsCluster(started, dir);
    try {
      for (const [index, { client, route, monitor }] of ports.entries()) {
        const config = `${dir}/n${index}.conf`;
        await Deno.writeTextFile(
          config,
          [
            `server_name: n${index}`,
            `listen: 127.0.0.1:${client}`,
            `http: 127.0.0.1:${monitor}`,
            `jetstream { store_dir: "${dir}/n${index}", max_mem: 64MB, max_file: 256MB }`,
            nodes > 1
              ? `cluster { name: relay-test, listen: 127.0.0.1:${route}, routes: [${
                routes.join(", ")
              }] }`
              : "",
            ...extra,
          ].join("\n"),
        );
        const process = new Deno.Command(binary, {
          args: ["-c", config],
          stdout: "null",
          stderr: "piped",
        }).spawn();
        const node: Node = {
          url: `nats://127.0.0.1:${client}`,
          monitorUrl: `http://127.0.0.1:${monitor}`,
          process,
          log: "",
        };
        started.push(node);
      }
      await Promise.all(started.map((node) => waitReady(node)));
      return cluster;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  /**
   * The index of the running node a client named `name` is connected to
   * (its connection name; a relay's is its relay.id), or undefined.
   */
  async nodeServing(name: string): Promise<number | undefined> {
    for (const [index, node] of this.#nodes.entries()) {
      if (node.process === undefined) continue;
      const response = await fetch(`${node.monitorUrl}/connz?limit=1024`);
      const { connections = [] } = await response.json() as {
        connections?: { name?: string }[];
      };
      if (connections.some((connection) => connection.name === name)) {
        return index;
      }
    }
    return undefined;
  }

  /** SIGKILL of node `index`. */
  async kill(index: number): Promise<void> {
    const node = this.#nodes[index];
    if (node?.process === undefined) return;
    try {
      node.process.kill("SIGKILL");
    } catch {
      // It died on its own (its log says why): the test's error comes first.
    }
    await node.process.status;
    node.process = undefined;
  }

  async close(): Promise<void> {
    for (const [index] of this.#nodes.entries()) await this.kill(index);
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}

/** Resolves once the node logs that it is ready (its log is kept for errors). */
async function waitReady(node: Node): Promise<void> {
  const reader = node.process!.stderr.pipeThrough(new TextDecoderStream())
    .getReader();
  const deadline = setTimeout(() => reader.cancel(), START_TIMEOUT_MS);
  try {
    while (!READY.test(node.log)) {
      const { value, done } = await reader.read();
      if (done) {
        throw new Error(`nats-server ${node.url} did not start:\n${node.log}`);
      }
      node.log += value;
    }
  } finally {
    clearTimeout(deadline);
  }
  // Keep draining its log so the server never blocks on a full pipe.
  (async () => {
    for (;;) {
      const { done } = await reader.read().catch(() => ({ done: true }));
      if (done) return;
    }
  })();
}
