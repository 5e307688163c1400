// The device's own gRPC server of the transparent-call tests, as a child
// process: test/transparent/py_test_server.py under a python3 that has
// grpcio (test/system_tools.ts finds it). Its stdout is read to the end:
// "PORT <n>" once it listens, then one "EVENT <kind> <tag>" per Block event.
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("./py_test_server.py", import.meta.url));
/** Compiling the proto and importing grpcio take about a second here. */
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 3_000;

export class PyTestServer {
  /** 127.0.0.1:<port> */
  readonly address: string;
  /** "<kind> <tag>" of every Block event printed so far. */
  readonly events: string[];
  readonly #child: Deno.ChildProcess;
  readonly #reading: Promise<void>;
  readonly #stderr: Promise<string>;

  private constructor(init: {
    address: string;
    events: string[];
    child: Deno.ChildProcess;
    reading: Promise<void>;
    stderr: Promise<string>;
  }) {
    this.address = init.address;
    this.events = init.events;
    this.#child = init.child;
    this.#reading = init.reading;
    this.#stderr = init.stderr;
  }

  static async start(python: string): Promise<PyTestServer> {
    const child = new Deno.Command(python, {
      args: [SCRIPT],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const events: string[] = [];
    const { promise: port, resolve, reject } = Promise.withResolvers<
      number
    >();
    const reading = (async () => {
      for await (const line of linesOf(child.stdout)) {
        if (line.startsWith("PORT ")) resolve(Number(line.slice(5)));
        else if (line.startsWith("EVENT ")) events.push(line.slice(6));
      }
      reject(new Error("py_test_server.py ended before listening"));
    })();
    const timer = setTimeout(
      () => reject(new Error("py_test_server.py did not listen in time")),
      START_TIMEOUT_MS,
    );
    try {
      const listening = await port;
      return new PyTestServer({
        address: `127.0.0.1:${listening}`,
        events,
        child,
        reading,
        stderr,
      });
    } catch (error) {
      child.kill("SIGKILL");
      await Promise.all([child.status, reading.catch(() => {})]);
      const text = await stderr;
      await child.stdin.close().catch(() => {});
      throw new Error(`${(error as Error).message}\n${text}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether a "<kind> <tag>" event was printed. */
  saw(kind: string, tag: string): boolean {
    return this.events.includes(`${kind} ${tag}`);
  }

  /** Ends the server (its stdin closes) and waits for the process. */
  async close(): Promise<void> {
    await this.#child.stdin.close().catch(() => {});
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch (error) {
        // Exited on its own meanwhile.
        if (!(error instanceof TypeError)) throw error;
      }
    }, STOP_TIMEOUT_MS);
    try {
      await this.#child.status;
      await this.#reading.catch(() => {});
      await this.#stderr;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The lines of a byte stream, as they complete. */
async function* linesOf(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + text).split("\n");
    rest = parts.pop() ?? "";
    yield* parts;
  }
  if (rest !== "") yield rest;
}
