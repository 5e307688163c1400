// CPU time spent over an interval: the whole process (node:process), and on
// Linux the main JS thread alone plus how long it waited for a core
// (/proc/self/task/<pid>/schedstat). Everything in this benchmark, relay and
// load generator alike, runs on that one thread, so its busy time per request
// is the cost that matters; its run-queue wait shows neighbours stealing CPU.
import process from "node:process";

export interface CpuSpent {
  /** User + system time of all threads, in microseconds. */
  processMicros: number;
  /** On-CPU time of the main thread, in microseconds (null: not Linux). */
  mainThreadMicros: number | null;
  /** Time the main thread was runnable but waiting for a core, in microseconds. */
  mainRunDelayMicros: number | null;
}

export interface CpuMeter {
  stop(): CpuSpent;
}

export function startCpuMeter(): CpuMeter {
  const process0 = process.cpuUsage();
  const thread0 = mainThreadSchedstat();
  return {
    stop() {
      const spent = process.cpuUsage(process0);
      const thread1 = mainThreadSchedstat();
      const both = thread0 !== null && thread1 !== null;
      return {
        processMicros: spent.user + spent.system,
        mainThreadMicros: both
          ? (thread1.onCpuNs - thread0.onCpuNs) / 1e3
          : null,
        mainRunDelayMicros: both
          ? (thread1.runDelayNs - thread0.runDelayNs) / 1e3
          : null,
      };
    },
  };
}

export function addCpu(a: CpuSpent, b: CpuSpent): CpuSpent {
  const sum = (x: number | null, y: number | null) =>
    x === null || y === null ? null : x + y;
  return {
    processMicros: a.processMicros + b.processMicros,
    mainThreadMicros: sum(a.mainThreadMicros, b.mainThreadMicros),
    mainRunDelayMicros: sum(a.mainRunDelayMicros, b.mainRunDelayMicros),
  };
}

function mainThreadSchedstat(): { onCpuNs: number; runDelayNs: number } | null {
  let text: string;
  try {
    // The main thread's id is the process id.
    text = Deno.readTextFileSync(`/proc/self/task/${Deno.pid}/schedstat`);
  } catch (_error) {
    return null; // not Linux, or no read permission: report n/a
  }
  const [onCpu, runDelay] = text.trim().split(/\s+/).map(Number);
  if (!Number.isFinite(onCpu) || !Number.isFinite(runDelay)) return null;
  return { onCpuNs: onCpu!, runDelayNs: runDelay! };
}
