// Random packet loss on one interface inside a network namespace the
// benchmark owns: iptables' statistic match, or the nft equivalent when
// iptables is missing or lacks it. The rules live in that namespace only, so
// deleting the namespace removes them too.
import { CommandError, runCommand } from "./run_command.ts";

export interface LossRules {
  /** "iptables" or "nft": what applies the loss. */
  readonly tool: string;
  /** Replaces the loss rules: `percent` of packets dropped each way (0: none). */
  set(percent: number): Promise<void>;
  /** Packets dropped since the last `set`, by direction. */
  dropped(): Promise<{ inbound: number; outbound: number }>;
}

/** The first tool that can apply loss in `namespace` on `device`. */
export async function lossRules(
  namespace: string,
  device: string,
): Promise<LossRules> {
  const failures: string[] = [];
  for (const make of [iptablesRules, nftRules]) {
    const rules = make(namespace, device);
    try {
      await rules.set(1); // proves the tool and its random match work here
      await rules.set(0);
      return rules;
    } catch (error) {
      failures.push((error as Error).message);
    }
  }
  throw new CommandError(`no packet filter can drop packets: ${failures}`);
}

const inNamespace = (namespace: string, command: string, args: string[]) =>
  runCommand("ip", ["netns", "exec", namespace, command, ...args]);

function iptablesRules(namespace: string, device: string): LossRules {
  const iptables = (...args: string[]) =>
    inNamespace(namespace, "iptables", ["-w", ...args]);
  const drops = async (chain: string) => {
    const listing = await iptables("-n", "-v", "-x", "-L", chain);
    let packets = 0;
    for (const line of listing.split("\n")) {
      const [count, , target] = line.trim().split(/\s+/);
      if (target === "DROP") packets += Number(count);
    }
    return packets;
  };
  return {
    tool: "iptables",
    async set(percent) {
      await iptables("-F", "INPUT");
      await iptables("-F", "OUTPUT");
      if (percent <= 0) return;
      const match = [
        "-m",
        "statistic",
        "--mode",
        "random",
        "--probability",
        String(percent / 100),
        "-j",
        "DROP",
      ];
      await iptables("-A", "INPUT", "-i", device, ...match);
      await iptables("-A", "OUTPUT", "-o", device, ...match);
    },
    async dropped() {
      return { inbound: await drops("INPUT"), outbound: await drops("OUTPUT") };
    },
  };
}

const NFT_TABLE = "relaybench";

function nftRules(namespace: string, device: string): LossRules {
  const nft = (...args: string[]) => inNamespace(namespace, "nft", args);
  return {
    tool: "nft",
    async set(percent) {
      await nft("add", "table", "inet", NFT_TABLE); // no-op when it exists
      await nft("delete", "table", "inet", NFT_TABLE);
      if (percent <= 0) return;
      // numgen yields 0..9999: `< N` keeps N in 10,000 (0.01% steps).
      const below = String(Math.round(percent * 100));
      const drop = `numgen random mod 10000 < ${below} counter drop`;
      const script = [
        `table inet ${NFT_TABLE} {`,
        `  chain input {`,
        `    type filter hook input priority 0;`,
        `    iifname "${device}" ${drop}`,
        `  }`,
        `  chain output {`,
        `    type filter hook output priority 0;`,
        `    oifname "${device}" ${drop}`,
        `  }`,
        `}`,
      ].join("\n");
      const file = await Deno.makeTempFile({
        prefix: "relaybench-",
        suffix: ".nft",
      });
      try {
        await Deno.writeTextFile(file, script);
        await nft("-f", file);
      } finally {
        await Deno.remove(file);
      }
    },
    async dropped() {
      const listing = await nft("-j", "list", "table", "inet", NFT_TABLE)
        .catch(() => '{"nftables":[]}');
      const counts = { inbound: 0, outbound: 0 };
      for (const item of JSON.parse(listing).nftables ?? []) {
        const rule = item.rule;
        if (!rule) continue;
        for (const expr of rule.expr ?? []) {
          if (!expr.counter) continue;
          const key = rule.chain === "input" ? "inbound" : "outbound";
          counts[key] += Number(expr.counter.packets);
        }
      }
      return counts;
    },
  };
}
