// Resource use of another process, read from Linux /proc: resident memory
// and CPU time (user + system, all threads). The bench samples the relay
// process this way, so what it reports is the relay's alone, not the load
// generator's.
const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux port

export interface ProcessSample {
  /** performance.now() when sampled, in milliseconds. */
  atMs: number;
  rssBytes: number;
  /** CPU time used since the process started, in seconds. */
  cpuSeconds: number;
}

export async function sampleProcess(pid: number): Promise<ProcessSample> {
  const [status, stat] = await Promise.all([
    Deno.readTextFile(`/proc/${pid}/status`),
    Deno.readTextFile(`/proc/${pid}/stat`),
  ]);
  const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  // Fields after the command name (which may hold spaces) in parentheses.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return {
    atMs: performance.now(),
    rssBytes: rssKiB * 1024,
    cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND,
  };
}

/**
 * CPU time the whole machine was busy since boot (every process and the
 * kernel: user, nice, system, irq, softirq, steal; not idle or iowait), from
 * /proc/stat, in the shape of a process sample without its memory.
 */
export async function sampleMachine(): Promise<
  Pick<ProcessSample, "atMs" | "cpuSeconds">
> {
  const stat = await Deno.readTextFile("/proc/stat");
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice"
  const ticks = stat.slice(0, stat.indexOf("\n")).trim().split(/\s+/)
    .slice(1, 9).map(Number);
  const busy = ticks.reduce(
    (sum, value, index) => index === 3 || index === 4 ? sum : sum + value,
    0,
  );
  return {
    atMs: performance.now(),
    cpuSeconds: busy / CLOCK_TICKS_PER_SECOND,
  };
}

/** CPU used between two samples as a share of one core (1.0 = one core busy). */
export function coresUsed(from: ProcessSample, to: ProcessSample): number {
  const wallSeconds = (to.atMs - from.atMs) / 1000;
  return wallSeconds <= 0 ? 0 : (to.cpuSeconds - from.cpuSeconds) / wallSeconds;
}

/**
 * Samples `pid` every `intervalMs` until stopped; reports the peak CPU share
 * over any one interval and the peak RSS seen.
 */
export function watchProcess(pid: number, intervalMs = 250) {
  let previous: ProcessSample | undefined;
  let peakCores = 0;
  let peakRssBytes = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const sample = await sampleProcess(pid);
        if (previous) {
          peakCores = Math.max(peakCores, coresUsed(previous, sample));
        }
        peakRssBytes = Math.max(peakRssBytes, sample.rssBytes);
        previous = sample;
      } catch {
        previous = undefined; // the process is gone (killed, restarting)
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop(): Promise<{ peakCores: number; peakRssBytes: number }> {
      stopped = true;
      await loop;
      return { peakCores, peakRssBytes };
    },
  };
}
