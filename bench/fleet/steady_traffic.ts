// Steady controller traffic to a set of devices: per device, one request
// after another (a short pause between), each with its own sequence number
// and payload "<device>/<seq>", through a RetryingCaller. Keeps what the
// controllers saw: requests sent, failures (after the caller's retries),
// every round trip's latency (retries included) and when each device
// answered, for the longest gap in its answers.
import type { RetryingCaller } from "./retrying_caller.ts";

export interface SteadyTrafficOptions {
  /** A caller per device id. */
  callers: ReadonlyMap<string, RetryingCaller>;
  /** Pause after each answer before the next request. */
  pauseMs: number;
  method?: string;
}

export class SteadyTraffic {
  /** Requests started (each counted once, whatever its retries). */
  sent = 0;
  /** "<payload>: <why>" per request that failed after its retries. */
  readonly failures: string[] = [];
  /** Each answered request's time from first attempt to answer, in ms. */
  readonly latenciesMs: number[] = [];
  /** performance.now() of each device's answers, in order. */
  readonly answeredAt = new Map<string, number[]>();
  #running = true;
  readonly #loops: Promise<void>[];

  constructor(options: SteadyTrafficOptions) {
    // Distinct per run: a device's answer cache must not recognise an earlier run.
    const firstSequence = 1 + Math.floor(Math.random() * 2 ** 40);
    this.#loops = [...options.callers].map(async ([deviceId, caller]) => {
      const answers: number[] = [];
      this.answeredAt.set(deviceId, answers);
      for (let seq = firstSequence; this.#running; seq++) {
        const text = `${deviceId}/${seq}`;
        this.sent++;
        const started = performance.now();
        try {
          const answer = await caller.call(
            options.method ?? "echo",
            new TextEncoder().encode(text),
            seq,
          );
          const at = performance.now();
          if (new TextDecoder().decode(answer) === text) {
            this.latenciesMs.push(at - started);
            answers.push(at);
          } else this.failures.push(`${text}: another request's answer`);
        } catch (error) {
          const code = (error as { code?: string }).code ?? "";
          this.failures.push(`${text}: ${code} ${(error as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
      }
    });
  }

  /** Lets each device's request in flight finish, then stops. */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  get worstLatencyMs(): number {
    return Math.max(0, ...this.latenciesMs);
  }

  /** The longest time any device went without an answer, and which. */
  longestGap(): { deviceId: string; ms: number } {
    let longest = { deviceId: "", ms: 0 };
    for (const [deviceId, times] of this.answeredAt) {
      for (let i = 1; i < times.length; i++) {
        const ms = times[i]! - times[i - 1]!;
        if (ms > longest.ms) longest = { deviceId, ms };
      }
    }
    return longest;
  }
}
