// The layer rule of DESIGN.md section 2, as data, and a checker for it: which
// folder of src/ and transports/ may import which. An import may go to its
// own folder, to a lower layer, or to another folder of its layer when the
// layer allows it; folders must not import each other in a cycle.
import { dirname, join, normalize, relative } from "node:path";

interface Layer {
  name: string;
  folders: string[];
  /** Whether folders of this layer may import each other (cycles still fail). */
  sideways: boolean;
}

/** Top first: a layer may import the layers below it. */
export const LAYERS: Layer[] = [
  {
    name: "composition roots",
    folders: ["src/main.ts", "mod.ts", "src/compose"],
    sideways: true,
  },
  { name: "CLI", folders: ["src/cli"], sideways: false },
  {
    // Transports never import each other; modules may (without a cycle).
    name: "adapters and modules",
    folders: [
      "transports/grpc",
      "transports/quic",
      "src/mqtt",
      "src/tunnel",
      "src/cluster",
      "src/console",
      "src/state",
    ],
    sideways: true,
  },
  // The core and the SDK stand side by side and never import each other.
  { name: "core and SDK", folders: ["src/core", "src/sdk"], sideways: false },
  {
    name: "foundations",
    folders: [
      "src/auth",
      "src/limits",
      "src/observability",
      "src/store",
      "src/e2e",
      "src/config",
      "src/errors",
      "src/gen",
      "src/tls",
      "src/wire",
    ],
    sideways: true,
  },
];

const TRANSPORTS = /^transports\//;

export interface Violation {
  from: string;
  to: string;
  why: string;
}

/** The folder (layer unit) a file belongs to, or undefined outside the rule. */
export function folderOf(path: string): string | undefined {
  for (const layer of LAYERS) {
    for (const folder of layer.folders) {
      if (path === folder || path.startsWith(`${folder}/`)) return folder;
    }
  }
  return undefined;
}

function rankOf(folder: string): number {
  return LAYERS.findIndex((layer) => layer.folders.includes(folder));
}

/** Relative specifiers of every static and dynamic import and re-export. */
export function importsOf(source: string): string[] {
  const specifiers: string[] = [];
  const pattern =
    /(?:^|[\s;])(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']|(?:^|[\s;])import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm;
  for (const match of source.matchAll(pattern)) {
    const specifier = match[1] ?? match[2] ?? match[3];
    if (specifier?.startsWith(".")) specifiers.push(specifier);
  }
  return specifiers;
}

async function* productionFiles(
  root: string,
  dir: string,
): AsyncGenerator<string> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(join(root, dir)));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  for (const entry of entries) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* productionFiles(root, path);
    else if (/\.(ts|js)$/.test(entry.name) && !/_test\.ts$/.test(entry.name)) {
      yield path;
    }
  }
}

/** Folder-to-folder import edges of the tree at `root`, with the file pairs behind each. */
export async function folderEdges(
  root: string,
): Promise<Map<string, { from: string; to: string }[]>> {
  const edges = new Map<string, { from: string; to: string }[]>();
  const files: string[] = [];
  for (const top of ["src", "transports"]) {
    files.push(...await Array.fromAsync(productionFiles(root, top)));
  }
  for (const top of ["mod.ts"]) {
    try {
      await Deno.stat(join(root, top));
      files.push(top);
    } catch { /* absent */ }
  }
  for (const file of files) {
    const source = await Deno.readTextFile(join(root, file));
    const fromFolder = folderOf(file) ?? `(unlisted) ${dirname(file)}`;
    for (const specifier of importsOf(source)) {
      const target = relative(
        root,
        normalize(join(root, dirname(file), specifier)),
      );
      const toFolder = folderOf(target) ?? `(unlisted) ${dirname(target)}`;
      if (toFolder === fromFolder) continue;
      const key = `${fromFolder} -> ${toFolder}`;
      const pairs = edges.get(key) ?? [];
      if (!pairs.some((pair) => pair.from === file && pair.to === target)) {
        pairs.push({ from: file, to: target });
      }
      edges.set(key, pairs);
    }
  }
  return edges;
}

/** Every import of the tree at `root` that breaks the layer rule, and every folder cycle. */
export async function layerViolations(root: string): Promise<Violation[]> {
  const edges = await folderEdges(root);
  const violations: Violation[] = [];
  const graph = new Map<string, Set<string>>();
  for (const [key, pairs] of edges) {
    const [fromFolder, toFolder] = key.split(" -> ") as [string, string];
    if (!graph.has(fromFolder)) graph.set(fromFolder, new Set());
    graph.get(fromFolder)!.add(toFolder);
    const fromRank = rankOf(fromFolder);
    const toRank = rankOf(toFolder);
    let why: string | undefined;
    if (fromRank < 0) {
      why = `${fromFolder} is in no layer (add it to LAYERS)`;
    } else if (toRank < 0) {
      why = `${toFolder} is in no layer (add it to LAYERS)`;
    } else if (toRank < fromRank) {
      why = `${LAYERS[fromRank]!.name} must not import ${
        LAYERS[toRank]!.name
      } (above it)`;
    } else if (toRank === fromRank && !LAYERS[fromRank]!.sideways) {
      why = `${fromFolder} and ${toFolder} must not import each other`;
    } else if (TRANSPORTS.test(fromFolder) && TRANSPORTS.test(toFolder)) {
      why = "transports never import each other";
    }
    if (why) violations.push(...pairs.map((pair) => ({ ...pair, why })));
  }
  for (const cycle of folderCycles(graph)) {
    violations.push({
      from: cycle[0]!,
      to: cycle[1]!,
      why: `folder cycle: ${cycle.join(" -> ")}`,
    });
  }
  return violations.sort((a, b) =>
    a.from.localeCompare(b.from) || a.to.localeCompare(b.to)
  );
}

/** One cycle (as a closed path) per strongly connected group of folders. */
function folderCycles(graph: Map<string, Set<string>>): string[][] {
  const cycles: string[][] = [];
  const done = new Set<string>();
  for (const start of [...graph.keys()].sort()) {
    if (done.has(start)) continue;
    const path = findPath(graph, start, start);
    if (path) {
      cycles.push(path);
      for (const folder of path) done.add(folder);
    }
    done.add(start);
  }
  return cycles;
}

/** A path from `from` back to `to` of at least one edge, by breadth-first search. */
function findPath(
  graph: Map<string, Set<string>>,
  from: string,
  to: string,
): string[] | undefined {
  const previous = new Map<string, string>();
  const queue = [...(graph.get(from) ?? [])];
  for (const next of queue) previous.set(next, from);
  while (queue.length > 0) {
    const folder = queue.shift()!;
    if (folder === to) {
      const path = [to];
      let at = previous.get(to)!;
      while (at !== from) {
        path.unshift(at);
        at = previous.get(at)!;
      }
      return [from, ...path];
    }
    for (const next of graph.get(folder) ?? []) {
      if (!previous.has(next)) {
        previous.set(next, folder);
        queue.push(next);
      }
    }
  }
  return undefined;
}
