// The system tools some tests need that Node and npm do not bring (Debian
// packages), and the one rule for those tests: they run when their tools are
// found; otherwise, outside CI, they are ignored and the reason is printed as
// a `SKIPPED-GROUP:` line (test/run_tests.ts collects these for its summary);
// under CI=true they fail, naming the missing tool.
//
// `deno run -A test/system_tools.ts` prints what this machine has.
import { fileURLToPath } from "node:url";

/** The command that installs every tool below (.ci/test_deps: apt-get update, then install). */
export const INSTALL_ALL = "deno task test:deps";
/** Prefix of the line a skipped group prints (parsed by test/run_tests.ts). */
export const SKIPPED_PREFIX = "SKIPPED-GROUP: ";

export type Found =
  | { readonly ok: true; readonly paths: Readonly<Record<string, string>> }
  | { readonly ok: false; readonly reason: string };

export interface SystemTool {
  /** The group's name in reports. */
  readonly name: string;
  /** The Debian packages that bring it. */
  readonly packages: readonly string[];
  /** Its executables' paths by name, or why it is not usable here. */
  find(): Promise<Found>;
}

/** Debian installs the broker in /usr/sbin, which is not on every PATH. */
export const MOSQUITTO: SystemTool = {
  name: "mosquitto",
  packages: ["mosquitto"],
  find: () => executables(["mosquitto", "mosquitto_passwd"]),
};

export const MOSQUITTO_CLIENTS: SystemTool = {
  name: "mosquitto-clients",
  packages: ["mosquitto-clients"],
  find: () => executables(["mosquitto_pub", "mosquitto_sub"]),
};

/** Debian's browser, driven by playwright-core (no Playwright download). */
export const CHROMIUM: SystemTool = {
  name: "chromium",
  packages: ["chromium"],
  find: () => executables(["chromium"], { onPath: false, dirs: ["/usr/bin"] }),
};

/** The NATS server of the relay cluster's tests (Debian installs it in /usr/sbin). */
export const NATS_SERVER: SystemTool = {
  name: "nats-server",
  packages: ["nats-server"],
  find: () => executables(["nats-server"]),
};

/** promtool checks and unit-tests the alert rules (deploy/prometheus/). */
export const PROMTOOL: SystemTool = {
  name: "promtool",
  packages: ["prometheus"],
  find: () => executables(["promtool"]),
};

/** python3 with grpcio and a proto compiler, as test/python/controller.py --probe says. */
export const PYTHON_GRPC: SystemTool = {
  name: "python3-grpcio",
  packages: ["python3-grpcio", "python3-grpc-tools"],
  find: findPython,
};

const FALLBACK_DIRS = [
  "/usr/local/sbin",
  "/usr/local/bin",
  "/usr/sbin",
  "/usr/bin",
];

/** Every name as an executable file (on PATH when `onPath`, then in `dirs`). */
async function executables(
  names: readonly string[],
  where: { onPath: boolean; dirs: readonly string[] } = {
    onPath: true,
    dirs: FALLBACK_DIRS,
  },
): Promise<Found> {
  const path = where.onPath ? (Deno.env.get("PATH") ?? "").split(":") : [];
  const dirs = [...path.filter((dir) => dir !== ""), ...where.dirs];
  const paths: Record<string, string> = {};
  const missing: string[] = [];
  for (const name of names) {
    const found = await firstExecutable(dirs.map((dir) => `${dir}/${name}`));
    if (found === undefined) missing.push(name);
    else paths[name] = found;
  }
  if (missing.length === 0) return { ok: true, paths };
  return {
    ok: false,
    reason: `${missing.join(", ")} not found ${
      where.onPath ? "on PATH or " : ""
    }in ${where.dirs.join(", ")}`,
  };
}

async function firstExecutable(
  candidates: readonly string[],
): Promise<string | undefined> {
  for (const path of candidates) {
    const info = await Deno.stat(path).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return undefined;
      if (error instanceof Deno.errors.PermissionDenied) return undefined;
      throw error;
    });
    if (info?.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return path;
  }
  return undefined;
}

const CONTROLLER = fileURLToPath(
  new URL("./python/controller.py", import.meta.url),
);

/** The first interpreter that has grpcio and a proto compiler. */
async function findPython(): Promise<Found> {
  const candidates = [
    Deno.env.get("PYTHON"),
    "python3",
    // Debian's python3-grpcio lives here even when another python3 (pyenv) is first on PATH.
    "/usr/bin/python3",
  ].filter((c): c is string => c !== undefined && c !== "");
  const reasons: string[] = [];
  for (const python of new Set(candidates)) {
    const answer = await new Deno.Command(python, {
      args: [CONTROLLER, "--probe"],
      stdout: "piped",
      stderr: "piped",
    }).output().catch((error: Error) => error);
    if (answer instanceof Error) {
      reasons.push(`${python}: ${answer.message}`);
    } else if (answer.code === 0) {
      return { ok: true, paths: { python } };
    } else {
      const text = new TextDecoder().decode(answer.stdout) +
        new TextDecoder().decode(answer.stderr);
      reasons.push(`${python}: ${text.trim().replaceAll("\n", " ")}`);
    }
  }
  return { ok: false, reason: reasons.join("; ") };
}

/** How to get one tool: the task that installs all, or its packages alone. */
export function enableWith(tool: SystemTool): string {
  return `${INSTALL_ALL} (or: apt-get install ${tool.packages.join(" ")})`;
}

/** The tools a test file checked once, and Deno.test for tests that need them. */
export class SystemTools {
  readonly #found: ReadonlyMap<SystemTool, Found>;
  readonly #ci: boolean;
  readonly #reported = new Set<SystemTool>();

  private constructor(found: ReadonlyMap<SystemTool, Found>, ci: boolean) {
    this.#found = found;
    this.#ci = ci;
  }

  /** Looks for `tools` (in parallel); CI=true turns a missing tool into a failure. */
  static async check(...tools: SystemTool[]): Promise<SystemTools> {
    const found = await Promise.all(tools.map((tool) => tool.find()));
    return new SystemTools(
      new Map(tools.map((tool, i) => [tool, found[i]!])),
      Deno.env.get("CI") === "true",
    );
  }

  /** The path of a checked tool's executable; throws when it was not found. */
  path(executable: string): string {
    for (const found of this.#found.values()) {
      const path = found.ok ? found.paths[executable] : undefined;
      if (path !== undefined) return path;
    }
    throw new Error(`${executable}: not found by SystemTools.check`);
  }

  /**
   * Deno.test for a test that needs `needs` (default: every checked tool):
   * unchanged when they are found, ignored outside CI, failing under CI=true.
   */
  test(name: string, fn: Deno.TestDefinition["fn"]): void;
  test(
    definition: Deno.TestDefinition & { needs?: readonly SystemTool[] },
  ): void;
  test(
    named: string | Deno.TestDefinition & { needs?: readonly SystemTool[] },
    fn?: Deno.TestDefinition["fn"],
  ): void {
    const definition = typeof named === "string"
      ? { name: named, fn: fn! }
      : named;
    const { needs = [...this.#found.keys()], ...test } = definition;
    const missing = needs.map((tool) => ({ tool, found: this.#lookup(tool) }))
      .flatMap(({ tool, found }) =>
        found.ok ? [] : [{ tool, reason: found.reason }]
      );
    if (missing.length === 0) return Deno.test(test);
    if (this.#ci) {
      const message = missing.map(({ tool, reason }) =>
        `${tool.name} is required when CI=true: ${reason}; install with: ${
          enableWith(tool)
        }`
      ).join("\n");
      return Deno.test({
        ...test,
        fn() {
          throw new Error(message);
        },
      });
    }
    for (const { tool, reason } of missing) {
      if (this.#reported.has(tool)) continue;
      this.#reported.add(tool);
      console.log(
        `${SKIPPED_PREFIX}${tool.name}: ${reason}; enable with: ${
          enableWith(tool)
        }`,
      );
    }
    Deno.test({ ...test, ignore: true });
  }

  #lookup(tool: SystemTool): Found {
    const found = this.#found.get(tool);
    if (found === undefined) {
      throw new Error(`${tool.name}: not in SystemTools.check(...)`);
    }
    return found;
  }
}

if (import.meta.main) {
  for (
    const tool of [
      MOSQUITTO,
      MOSQUITTO_CLIENTS,
      CHROMIUM,
      PYTHON_GRPC,
      NATS_SERVER,
      PROMTOOL,
    ]
  ) {
    const found = await tool.find();
    console.log(
      found.ok
        ? `${tool.name}: ${Object.values(found.paths).join(", ")}`
        : `${tool.name}: missing (${found.reason}); enable with: ${
          enableWith(tool)
        }`,
    );
  }
}
