// Config is parsed once into a typed, frozen object: YAML file, then
// environment overrides (key path joined with "__", upper case), then
// explicit overrides (CLI flags). A bad value fails naming the key.
import { parse as parseYaml } from "yaml";
import { configSchema, type RelayConfig } from "./config_schema.ts";
import { RelayError } from "../errors/relay_error.ts";

type Tree = { [key: string]: unknown };

export interface LoadConfigOptions {
  /** Path of a YAML file; omitted means embedded defaults. */
  path?: string;
  /** Environment to read overrides from (defaults to the process env). */
  env?: Record<string, string>;
  /** Dotted key path -> value, applied last (CLI flags, tests). */
  overrides?: Record<string, unknown>;
}

export async function loadConfig(
  options: LoadConfigOptions = {},
): Promise<RelayConfig> {
  let tree: Tree = {};
  if (options.path !== undefined) {
    let text: string;
    try {
      text = await Deno.readTextFile(options.path);
    } catch (error) {
      throw new RelayError(
        "INVALID_REQUEST",
        `cannot read config file ${options.path}`,
        {
          cause: error,
        },
      );
    }
    tree = parseYamlTree(text, options.path);
  }
  return buildConfig(
    tree,
    options.env ?? Deno.env.toObject(),
    options.overrides ?? {},
  );
}

/** Validates a config tree (already parsed) with env and explicit overrides. */
export function buildConfig(
  tree: Tree,
  env: Record<string, string> = {},
  overrides: Record<string, unknown> = {},
): RelayConfig {
  const merged = structuredClone(tree);
  const defaults = configSchema.parse({});
  const known = new Set<string>();
  for (const path of leafPaths(defaults)) {
    const name = envName(path);
    known.add(name);
    const raw = env[name];
    if (raw === undefined) continue;
    // Text keys take the value as it is (secrets may contain '#', '!', ...);
    // numbers and booleans are parsed as YAML scalars.
    const isText = typeof getPath(defaults, path) === "string";
    setPath(merged, path, isText ? raw : parseScalar(raw));
  }
  const unknown = Object.keys(env).filter((name) =>
    /^(RELAY|OBSERVABILITY)__/.test(name) && !known.has(name)
  );
  if (unknown.length > 0) {
    throw new RelayError(
      "INVALID_REQUEST",
      `unknown config environment variable(s) ${unknown.join(", ")}`,
    );
  }
  // RELAY_STATE_DIR is the documented short form of RELAY__STATE_DIR.
  if (env.RELAY_STATE_DIR !== undefined && env.RELAY__STATE_DIR === undefined) {
    setPath(merged, ["relay", "state_dir"], env.RELAY_STATE_DIR);
  }
  for (const [dotted, value] of Object.entries(overrides)) {
    if (value !== undefined) setPath(merged, dotted.split("."), value);
  }
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const messages = result.error.issues.map((issue) => {
      const key = issue.path.join(".") || "(root)";
      const detail = issue.code === "unrecognized_keys"
        ? `unknown key(s) ${
          issue.keys.map((k) => [...issue.path, k].join(".")).join(", ")
        }`
        : issue.message;
      return `config key ${key}: ${detail}`;
    });
    throw new RelayError("INVALID_REQUEST", messages.join("; "));
  }
  return deepFreeze(result.data);
}

function parseYamlTree(text: string, path: string): Tree {
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new RelayError(
      "INVALID_REQUEST",
      `config file ${path} is not valid YAML`,
      {
        cause: error,
      },
    );
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new RelayError(
      "INVALID_REQUEST",
      `config file ${path} must contain a mapping`,
    );
  }
  return parsed as Tree;
}

/** Env values are YAML scalars, so "true", "42" and "0.05" get their types. */
function parseScalar(raw: string): unknown {
  try {
    const value = parseYaml(raw);
    return value === null ? raw : value;
  } catch {
    return raw; // not YAML: take the text as it is
  }
}

function envName(path: string[]): string {
  return path.join("__").toUpperCase();
}

function getPath(tree: Tree, path: string[]): unknown {
  let node: unknown = tree;
  for (const key of path) node = (node as Tree)[key];
  return node;
}

function leafPaths(tree: Tree, prefix: string[] = []): string[][] {
  return Object.entries(tree).flatMap(([key, value]) =>
    value !== null && typeof value === "object" && !Array.isArray(value)
      ? leafPaths(value as Tree, [...prefix, key])
      : [[...prefix, key]]
  );
}

function setPath(tree: Tree, path: string[], value: unknown): void {
  let node = tree;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== "object" || Array.isArray(next)) {
      node[key] = {};
    }
    node = node[key] as Tree;
  }
  node[path[path.length - 1]!] = value;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
