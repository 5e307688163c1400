// The relay CLI as real processes for tests: run one to its end, or spawn
// one and watch its output for lines.
import { fileURLToPath } from "node:url";

export const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));

/** `relay ARGS` as a process, its output piped; `env` added to the parent's. */
export function spawn(
  args: string[],
  env: Record<string, string> = {},
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
}

/** `relay ARGS` to its end: exit code and output. */
export async function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    env: { NO_COLOR: "1", ...env },
  }).output();
  const text = new TextDecoder();
  return {
    code: output.code,
    stdout: text.decode(output.stdout),
    stderr: text.decode(output.stderr),
  };
}

/** Collects a stream's text and resolves `waitFor(pattern)` once it appears. */
export function watch(stream: ReadableStream<Uint8Array>) {
  let text = "";
  const waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] =
    [];
  const done = (async () => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      for (const waiter of [...waiters]) {
        const match = text.match(waiter.pattern);
        if (match) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(match);
        }
      }
    }
  })();
  return {
    done,
    get text() {
      return text;
    },
    waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
      const match = text.match(pattern);
      if (match) return Promise.resolve(match);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${pattern} in:\n${text}`)),
          timeoutMs,
        );
        waiters.push({
          pattern,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
  };
}

/** `relay serve` on free loopback ports, its output watched; `env` added. */
export function serveOnFreePorts(
  stateDir: string,
  env: Record<string, string> = {},
) {
  const relay = spawn([
    "serve",
    ...["--state-dir", stateDir, "--address", "127.0.0.1:0"],
    ...["--quic-address", "127.0.0.1:0", "--health-address", "127.0.0.1:0"],
  ], env);
  return {
    relay,
    relayErr: watch(relay.stderr),
    relayOut: watch(relay.stdout),
  };
}

/** The gRPC and QUIC ports a relay on free ports printed it listens on. */
export async function relayPorts(
  relayErr: ReturnType<typeof watch>,
): Promise<{ port: string; quicPort: string }> {
  const [, port] = await relayErr.waitFor(
    /listening on 127\.0\.0\.1:(\d+) \(TLS\)/,
  );
  const [, quicPort] = await relayErr.waitFor(
    /QUIC \(UDP\) on 127\.0\.0\.1:(\d+)/,
  );
  return { port: port!, quicPort: quicPort! };
}
