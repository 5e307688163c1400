// `deno task test`: type-checks every *_test.ts file (with what it imports)
// in one `deno check`, then runs each file in its own `deno test --no-check`
// process, two at a time, the slow cluster files first, and prints one
// summary. (Each `deno test` checking its own file graph again took about
// half the run's time.)
//
// Why not one `deno test --parallel`: Deno 2.9.6 can crash inside nghttp2
// when an HTTP/2 session receives a GOAWAY (denoland/deno#36788, open), and
// one crash ends the whole run. A file whose process dies of a signal
// (exit 134/139) is run again (up to three times) and the crash is reported;
// a failed assertion is never retried.
//
// Tests that need a missing system tool (test/system_tools.ts) are ignored
// outside CI and print a SKIPPED-GROUP line; the summary names each group,
// why it was skipped and how to enable it.
import { fileURLToPath } from "node:url";
import { INSTALL_ALL, SKIPPED_PREFIX } from "./system_tools.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DIRECTORIES = ["src", "transports", "test"];
const CONCURRENCY = 2;
const CRASH_CODES = new Set([134, 139]);
/** Re-runs of a file after a crash of Deno itself (never after a failed assertion). */
const MAX_CRASH_RERUNS = 3;

interface FileResult {
  file: string;
  passed: number;
  failed: number;
  ignored: number;
  code: number;
  crashes: number;
  /** SKIPPED-GROUP lines: group name to "reason; enable with: command". */
  skippedGroups: Map<string, string>;
}

async function* testFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory && entry.name !== "node_modules") {
      yield* testFiles(path);
    } else if (entry.isFile && entry.name.endsWith("_test.ts")) yield path;
  }
}

async function runFile(file: string, extraArgs: string[]): Promise<FileResult> {
  let crashes = 0;
  for (;;) {
    const output = await new Deno.Command(Deno.execPath(), {
      // gc exposed: tests that depend on objects staying reachable force
      // collections (see browser_webtransport_test.ts).
      args: [
        "test",
        "--allow-all",
        "--no-check",
        "--v8-flags=--expose-gc",
        ...extraArgs,
        file,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout) +
      new TextDecoder().decode(output.stderr);
    const crashed = CRASH_CODES.has(output.code) || output.signal !== null;
    if (crashed && crashes < MAX_CRASH_RERUNS) {
      crashes++;
      console.log(
        `\n!! ${file}: deno crashed (exit ${output.code}; denoland/deno#36788), running it again`,
      );
      continue;
    }
    console.log(text.trimEnd());
    const summary = /(\d+) passed \| (\d+) failed(?: \| (\d+) ignored)?/.exec(
      text,
    );
    const failedTests = Number(summary?.[2] ?? 0);
    return {
      file,
      passed: Number(summary?.[1] ?? 0),
      // A file that fails without a failing test (type error, crash) counts as one failure.
      failed: output.code !== 0 && failedTests === 0 ? 1 : failedTests,
      ignored: Number(summary?.[3] ?? 0),
      code: output.code,
      crashes,
      skippedGroups: skippedGroups(text),
    };
  }
}

function skippedGroups(text: string): Map<string, string> {
  const groups = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (!line.startsWith(SKIPPED_PREFIX)) continue;
    const rest = line.slice(SKIPPED_PREFIX.length);
    const colon = rest.indexOf(": ");
    groups.set(rest.slice(0, colon), rest.slice(colon + 2));
  }
  return groups;
}

/** Each skipped group once, with its reason and the files whose tests it skipped. */
function reportSkipped(results: readonly FileResult[]): void {
  const groups = new Map<string, { detail: string; files: string[] }>();
  const byFile = [...results].sort((a, b) => a.file.localeCompare(b.file));
  for (const result of byFile) {
    for (const [name, detail] of result.skippedGroups) {
      const group = groups.get(name) ?? { detail, files: [] };
      group.files.push(
        `${result.file} (${result.ignored} of its tests ignored)`,
      );
      groups.set(name, group);
    }
  }
  const other = byFile.filter((r) =>
    r.ignored > 0 && r.skippedGroups.size === 0
  );
  if (groups.size === 0 && other.length === 0) return;
  console.log(
    "skipped: tests that need a system tool this machine lacks (a failure under CI=true); " +
      `${INSTALL_ALL} installs them all`,
  );
  for (const [name, { detail, files }] of groups) {
    console.log(`  ${name}: ${detail}\n    in ${files.join(", ")}`);
  }
  for (const result of other) {
    console.log(
      `  ${result.file}: ${result.ignored} ignored by the file itself`,
    );
  }
}

const files: string[] = [];
for (const dir of DIRECTORIES) {
  for await (const file of testFiles(dir)) files.push(file);
}
// The cluster files mostly wait (NATS clusters, relay processes): started
// first, they overlap the rest instead of ending the run alone.
const slowFirst = (file: string) => file.startsWith("test/cluster/") ? 0 : 1;
files.sort((a, b) => slowFirst(a) - slowFirst(b) || a.localeCompare(b));
const extraArgs = Deno.args;

const check = await new Deno.Command(Deno.execPath(), {
  args: ["check", ...files],
  cwd: ROOT,
}).output();
if (!check.success) {
  console.log(new TextDecoder().decode(check.stderr).trimEnd());
  console.log("FAILED | the test files do not type-check (deno check above)");
  Deno.exit(1);
}
const results: FileResult[] = [];
const queue = [...files];
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      results.push(await runFile(file, extraArgs));
    }
  }),
);

const total = (key: "passed" | "failed" | "ignored") =>
  results.reduce((n, r) => n + r[key], 0);
const crashed = results.filter((r) => r.crashes > 0).map((r) => r.file);
const failedFiles = results.filter((r) => r.code !== 0).map((r) => r.file);
console.log("");
if (crashed.length > 0) {
  console.log(
    `deno crashed once in: ${
      crashed.join(", ")
    } (re-run passed or failed as shown)`,
  );
}
if (failedFiles.length > 0) {
  console.log(`failing files: ${failedFiles.join(", ")}`);
}
reportSkipped(results);
const status = failedFiles.length === 0 ? "ok" : "FAILED";
console.log(
  `${status} | ${total("passed")} passed | ${total("failed")} failed | ${
    total("ignored")
  } ignored`,
);
console.log(
  `${total("passed")} passed, ${total("failed")} failed, ${
    total("ignored")
  } skipped`,
);
Deno.exit(failedFiles.length === 0 ? 0 : 1);
