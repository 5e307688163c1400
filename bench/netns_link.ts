// A private test host for the loss scenario: a network namespace joined to
// this one by a veth pair with a /30 from 10.203.0.0/16 (addresses that exist
// only between these two ends), and random packet loss on the namespace's
// end. Everything is created by the benchmark and deleted by `close()`;
// leftovers of a killed earlier run (its process gone) are swept first.
import { type LossRules, lossRules } from "./loss_rules.ts";
import { CommandError, runCommand } from "./run_command.ts";

const PREFIX = "relaybench-";
const SUBNET_COUNT = 16384; // /30s in 10.203.0.0/16

export interface NetnsLink {
  readonly namespace: string;
  /** This namespace's end: where the relay listens. */
  readonly hostAddress: string;
  /** The namespace's end: where the devices connect from. */
  readonly peerAddress: string;
  readonly rules: LossRules;
  /** Packets that crossed the link (both ways, dropped ones included) since `mark()`. */
  packetsSinceMark(): Promise<number>;
  mark(): Promise<void>;
  close(): Promise<void>;
}

/** Null when namespaces can be used here, otherwise why not. */
export async function netnsUnavailable(): Promise<string | null> {
  if (Deno.build.os !== "linux") return "network namespaces need Linux";
  if (Deno.uid() !== 0) return "network namespaces need root";
  try {
    await runCommand("ip", ["-V"]);
  } catch (error) {
    return (error as CommandError).notFound
      ? "`ip` (iproute2) is not installed"
      : (error as Error).message;
  }
  const installed = async (command: string, flag: string) =>
    await runCommand(command, [flag]).then(() => true, () => false);
  if (!await installed("iptables", "-V") && !await installed("nft", "-v")) {
    return "neither iptables nor nft is installed (apt-get install iptables)";
  }
  return null;
}

export async function createNetnsLink(): Promise<NetnsLink> {
  await sweepStale();
  const namespace = `${PREFIX}${Deno.pid}`;
  const hostDevice = `rbh${Deno.pid}`;
  const peerDevice = `rbd${Deno.pid}`;
  const { host, peer } = await freeSubnet();
  const close = async () => {
    await runCommand("ip", ["netns", "del", namespace]).catch(() => {
      // Not created, or gone already.
    });
    // The host end goes with its peer, a moment later; make sure it is gone.
    await runCommand("ip", ["link", "del", hostDevice]).catch(() => {
      // Gone already: the usual case.
    });
  };
  try {
    await runCommand("ip", ["netns", "add", namespace]);
    await runCommand("ip", [
      ...["link", "add", hostDevice, "type", "veth"],
      ...["peer", "name", peerDevice, "netns", namespace],
    ]);
    await runCommand("ip", ["addr", "add", `${host}/30`, "dev", hostDevice]);
    await runCommand("ip", ["link", "set", hostDevice, "up"]);
    const inside = (...args: string[]) =>
      runCommand("ip", ["-n", namespace, ...args]);
    await inside("addr", "add", `${peer}/30`, "dev", peerDevice);
    await inside("link", "set", peerDevice, "up");
    await inside("link", "set", "lo", "up");
    const rules = await lossRules(namespace, peerDevice);
    const counters = async () => {
      const [link] = JSON.parse(
        await inside("-s", "-j", "link", "show", "dev", peerDevice),
      );
      const stats = link?.stats64 ?? link?.stats;
      const dropped = await rules.dropped();
      // INPUT drops are counted in rx; OUTPUT drops never reach tx.
      return Number(stats?.rx?.packets ?? 0) +
        Number(stats?.tx?.packets ?? 0) + dropped.outbound;
    };
    let marked = 0;
    return {
      namespace,
      hostAddress: host,
      peerAddress: peer,
      rules,
      async mark() {
        marked = await counters();
      },
      async packetsSinceMark() {
        return await counters() - marked;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A /30 in 10.203.0.0/16 whose addresses no interface here uses. */
async function freeSubnet(): Promise<{ host: string; peer: string }> {
  const used = await runCommand("ip", ["-4", "-o", "addr", "show"]);
  for (let i = 0; i < SUBNET_COUNT; i++) {
    const index = (Deno.pid + i) % SUBNET_COUNT;
    const base = `10.203.${index >> 6}.`;
    const low = (index & 63) * 4;
    if (used.includes(`inet ${base}${low + 1}/`)) continue;
    if (used.includes(`inet ${base}${low + 2}/`)) continue;
    return { host: `${base}${low + 1}`, peer: `${base}${low + 2}` };
  }
  throw new Error("no free /30 in 10.203.0.0/16");
}

/** Deletes namespaces left by earlier runs whose process is gone. */
async function sweepStale(): Promise<void> {
  const listing = await runCommand("ip", ["netns", "list"]);
  for (const line of listing.split("\n")) {
    const match = new RegExp(`^${PREFIX}(\\d+)\\b`).exec(line.trim());
    if (match === null || processAlive(Number(match[1]))) continue;
    console.error(`removing stale namespace ${PREFIX}${match[1]}`);
    await runCommand("ip", ["netns", "del", `${PREFIX}${match[1]}`]);
  }
}

function processAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (_error) {
    return false; // no such process
  }
}
