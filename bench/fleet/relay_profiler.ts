// CPU profiles and heap snapshots of the relay process through its V8
// inspector (Chrome DevTools protocol): Deno 2.9 has no --cpu-prof flag.
// The .cpuprofile and .heapsnapshot files open in Chrome DevTools.

interface ProfileNode {
  id: number;
  callFrame: {
    functionName: string;
    url: string;
    lineNumber: number;
  };
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface HotFunction {
  name: string;
  where: string;
  selfMs: number;
  share: number;
}

type Pending = {
  resolve: (result: Record<string, unknown>) => void;
  reject: (error: Error) => void;
};

export class RelayProfiler {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, Pending>();
  readonly #chunks: string[] = [];
  #nextId = 1;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data as string);
      if (message.method === "HeapProfiler.addHeapSnapshotChunk") {
        this.#chunks.push(message.params.chunk);
        return;
      }
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      if (message.error) pending.reject(new Error(message.error.message));
      else pending.resolve(message.result ?? {});
    };
  }

  /** Attaches to the inspector listening on 127.0.0.1:`port`. */
  static async attach(port: number): Promise<RelayProfiler> {
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`))
      .json() as { webSocketDebuggerUrl: string }[];
    const socket = new WebSocket(targets[0]!.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error("inspector connection failed"));
    });
    const profiler = new RelayProfiler(socket);
    await profiler.#send("Profiler.enable");
    await profiler.#send("Profiler.setSamplingInterval", { interval: 500 });
    return profiler;
  }

  async startCpu(): Promise<void> {
    await this.#send("Profiler.start");
  }

  async stopCpu(): Promise<CpuProfile> {
    const { profile } = await this.#send("Profiler.stop");
    return profile as CpuProfile;
  }

  /** A full garbage collection: what is left is what the relay holds on to. */
  async collectGarbage(): Promise<void> {
    await this.#send("HeapProfiler.enable");
    await this.#send("HeapProfiler.collectGarbage");
  }

  /** Writes a full heap snapshot (after a GC) to `path`. */
  async heapSnapshot(path: string): Promise<void> {
    this.#chunks.length = 0;
    await this.#send("HeapProfiler.enable");
    await this.#send("HeapProfiler.collectGarbage");
    await this.#send("HeapProfiler.takeHeapSnapshot", {
      reportProgress: false,
    });
    await Deno.writeTextFile(path, this.#chunks.join(""));
    this.#chunks.length = 0;
  }

  close(): void {
    this.#socket.close();
    for (const pending of this.#pending.values()) {
      pending.reject(new Error("profiler closed"));
    }
    this.#pending.clear();
  }

  #send(
    method: string,
    params: Record<string, unknown> = {},
  ): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }
}

/** Self time per function, highest first; "(idle)" is left out of the shares. */
export function hotFunctions(profile: CpuProfile, top = 25): HotFunction[] {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<string, { name: string; where: string; us: number }>();
  let busyUs = 0;
  profile.samples.forEach((nodeId, index) => {
    const frame = byNode.get(nodeId)!.callFrame;
    const us = profile.timeDeltas[index] ?? 0;
    if (frame.functionName === "(idle)") return;
    busyUs += us;
    const where = frame.url
      ? `${
        frame.url.replace(/^.*\/(node_modules|npm)\//, "").replace(
          /^file:\/\/.*\/main\//,
          "",
        )
      }:${frame.lineNumber + 1}`
      : "";
    const key = `${frame.functionName}@${where}`;
    const entry = selfUs.get(key) ??
      { name: frame.functionName || "(anonymous)", where, us: 0 };
    entry.us += us;
    selfUs.set(key, entry);
  });
  return [...selfUs.values()].sort((a, b) => b.us - a.us).slice(0, top).map((
    entry,
  ) => ({
    name: entry.name,
    where: entry.where,
    selfMs: entry.us / 1000,
    share: busyUs > 0 ? entry.us / busyUs : 0,
  }));
}
