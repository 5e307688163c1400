// The hostile-input suite's test wrapper: like contractTest (one fresh relay
// per transport, "hostile: name [h2]" / "hostile: name [quic]"), plus a
// scratch directory for key files prepared before the relay starts, and a
// bound on every case so a missing defence fails fast instead of hanging.
import {
  startTestRelay,
  type TestRelay,
  type TestTransport,
  TRANSPORTS,
} from "../harness.ts";
import { withDeadline } from "../with_deadline.ts";

export interface HostileCaseOptions {
  /** Dotted config keys for the relay. */
  config?: Record<string, unknown>;
  /**
   * Runs before the relay starts (e.g. writes key files into the scratch
   * directory, starts a JWKS server); the keys it returns are added to
   * `config`.
   */
  prepare?: (setup: CaseSetup) => Promise<Record<string, unknown>>;
  /** Transports the case applies to (default: all of them). */
  transports?: readonly TestTransport[];
  /** Bound on the case body (default 8 s). */
  timeoutMs?: number;
}

export interface CaseSetup {
  /** Scratch directory of this case (removed afterwards). */
  scratchDir: string;
  /** Runs `cleanup` after the relay has been closed. */
  defer(cleanup: () => Promise<void> | void): void;
}

export function hostileTest(
  name: string,
  options: HostileCaseOptions,
  body: (t: TestRelay) => Promise<void>,
): void {
  for (const transport of options.transports ?? TRANSPORTS) {
    Deno.test(`hostile: ${name} [${transport}]`, async () => {
      const scratchDir = await Deno.makeTempDir({ prefix: "relay-hostile-" });
      const cleanups: (() => Promise<void> | void)[] = [];
      try {
        const prepared = await options.prepare?.({
          scratchDir,
          defer: (cleanup) => void cleanups.push(cleanup),
        }) ?? {};
        const t = await startTestRelay({
          transport,
          config: { ...options.config, ...prepared },
        });
        try {
          await withDeadline(
            body(t),
            options.timeoutMs ?? 8000,
            `hostile: ${name} [${transport}]`,
          );
        } finally {
          await t.close();
        }
      } finally {
        for (const cleanup of cleanups.reverse()) await cleanup();
        await Deno.remove(scratchDir, { recursive: true });
      }
    });
  }
}

/**
 * Controller options for clients whose requests the relay must see as sent
 * (exact sizes, payload markers, raw sequence numbers, unknown devices): no
 * end-to-end encryption. Well-behaved clients (still_serves.ts) keep it on.
 */
export const PLAINTEXT = { e2e: false } as const;

/** Resolves after `ms` (short waits for token buckets and block windows only). */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));
