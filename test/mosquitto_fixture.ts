// A real Mosquitto broker on a free loopback port for tests, plus a
// BrokerDialer that opens plain TCP connections to it (what the relay's
// external-broker dialer does).
import type { BrokerDialer } from "../src/mqtt/mqtt_ports.ts";

export interface Mosquitto {
  readonly port: number;
  readonly url: string;
  readonly dialer: BrokerDialer;
  close(): Promise<void>;
}

/** Starts `executable` (the path test/system_tools.ts found for mosquitto). */
export async function startMosquitto(executable: string): Promise<Mosquitto> {
  const dir = await Deno.makeTempDir({ prefix: "mosquitto-test-" });
  // Mosquitto needs a concrete port: take a free one from the kernel.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  await Deno.writeTextFile(
    `${dir}/mosquitto.conf`,
    [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous true",
      "persistence false",
      // Throughput tests queue thousands of messages per subscriber; QoS 0
      // ones that cannot be in flight are dropped unless they may queue too.
      "max_queued_messages 0",
      "queue_qos0_messages true",
      "log_dest none",
    ].join("\n") + "\n",
  );
  const process = new Deno.Command(executable, {
    args: ["-c", `${dir}/mosquitto.conf`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        process.kill("SIGKILL");
        await process.status;
        throw new Error(`mosquitto did not start: ${error}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  const dialer: BrokerDialer = {
    async dial() {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.setNoDelay(true);
      let closed = false;
      return {
        readable: conn.readable,
        writable: conn.writable,
        close() {
          if (closed) return;
          closed = true;
          try {
            conn.close();
          } catch (error) {
            if (!(error instanceof Deno.errors.BadResource)) throw error;
          }
        },
      };
    },
  };
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dialer,
    async close() {
      process.kill("SIGTERM");
      await process.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}
