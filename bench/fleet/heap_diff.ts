// What grew between two heap snapshots of the relay (e.g. the soak's, taken
// with `deno task bench --only soak --heap-snapshots DIR`): objects grouped
// by constructor (or kind of string, array, native buffer), the groups whose
// count or self size grew most first.
// Usage: deno run -A bench/fleet/heap_diff.ts BEFORE.heapsnapshot AFTER.heapsnapshot [TOP]

interface Group {
  count: number;
  bytes: number;
}

interface Snapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[], ...unknown[]] };
  };
  nodes: number[];
  strings: string[];
}

/** Self size and count per "type name" (names of strings and numbers are left out). */
export function groupHeap(snapshot: Snapshot): Map<string, Group> {
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const groups = new Map<string, Group>();
  const nodes = snapshot.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]!] ?? "?";
    const named = type === "object" || type === "native" ||
      type === "closure" || type === "hidden";
    const key = named
      ? `${type} ${snapshot.strings[nodes[i + nameAt]!]?.slice(0, 60)}`
      : type;
    const group = groups.get(key) ?? { count: 0, bytes: 0 };
    group.count++;
    group.bytes += nodes[i + sizeAt]!;
    groups.set(key, group);
  }
  return groups;
}

async function load(path: string): Promise<Map<string, Group>> {
  return groupHeap(JSON.parse(await Deno.readTextFile(path)) as Snapshot);
}

if (import.meta.main) {
  const [beforePath, afterPath, top = "25"] = Deno.args;
  if (!beforePath || !afterPath) {
    console.error(
      "usage: heap_diff.ts BEFORE.heapsnapshot AFTER.heapsnapshot [TOP]",
    );
    Deno.exit(2);
  }
  const before = await load(beforePath);
  const after = await load(afterPath);
  const rows = [...new Set([...before.keys(), ...after.keys()])].map((key) => {
    const a = before.get(key) ?? { count: 0, bytes: 0 };
    const b = after.get(key) ?? { count: 0, bytes: 0 };
    return { key, count: b.count - a.count, bytes: b.bytes - a.bytes };
  }).sort((x, y) => y.bytes - x.bytes).slice(0, Number(top));
  const total = (groups: Map<string, Group>) =>
    [...groups.values()].reduce((sum, g) => sum + g.bytes, 0);
  console.log(
    `heap ${(total(before) / 1e6).toFixed(1)} MB -> ${
      (total(after) / 1e6).toFixed(1)
    } MB; largest growth by self size:`,
  );
  for (const row of rows) {
    console.log(
      `${(row.bytes / 1e3).toFixed(0).padStart(9)} kB ${
        String(row.count).padStart(8)
      }  ${row.key}`,
    );
  }
}
