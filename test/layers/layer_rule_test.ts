import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { importsOf, layerViolations } from "./layer_rule.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Writes `files` (path to source) into a fresh directory. */
async function tree(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "layers-" });
  for (const [path, source] of Object.entries(files)) {
    await Deno.mkdir(join(root, dirname(path)), { recursive: true });
    await Deno.writeTextFile(join(root, path), source);
  }
  return root;
}

/**
 * Wrong-way imports the tree still has, each to be removed here when fixed
 * (issue 15). The test fails on any other, and on one fixed but still listed.
 */
const NOT_YET_FIXED: string[] = [];

Deno.test("every import in src/ and transports/ follows the layer rule", async () => {
  const violations = await layerViolations(ROOT);
  const found = violations.map(({ from, to }) => `${from} -> ${to}`);
  assert.deepEqual(
    violations.filter(({ from, to }) =>
      !NOT_YET_FIXED.includes(`${from} -> ${to}`)
    ).map(({ from, to, why }) => `${from} -> ${to}: ${why}`),
    [],
    "new wrong-way imports",
  );
  assert.deepEqual(
    NOT_YET_FIXED.filter((edge) => !found.includes(edge)),
    [],
    "fixed: remove these from NOT_YET_FIXED",
  );
});

Deno.test("the checker finds imports, re-exports and dynamic imports", () => {
  assert.deepEqual(
    importsOf(`
      import { a } from "./a.ts";
      import type {
        B,
      } from "../b/b.ts";
      export * from "./c.ts";
      export { d } from "./d.ts";
      import "./e.ts";
      const f = await import("./f.ts");
      import { npm } from "@grpc/grpc-js";
      import x from "node:fs";
    `),
    ["./a.ts", "../b/b.ts", "./c.ts", "./d.ts", "./e.ts", "./f.ts"],
  );
});

Deno.test("a wrong-way import fails the rule, naming both files and why", async () => {
  const root = await tree({
    "src/core/relay.ts": 'import { publish } from "../mqtt/publisher.ts";\n',
    "src/mqtt/publisher.ts": "export const publish = 1;\n",
    "src/observability/health.ts": 'import "../core/relay.ts";\n',
    "transports/quic/server.ts": 'import "../grpc/codec.ts";\n',
    "transports/grpc/codec.ts": 'import "../../src/core/relay.ts";\n',
    "src/sdk/agent.ts": 'import "../core/relay.ts";\n',
  });
  try {
    const violations = await layerViolations(root);
    assert.deepEqual(
      violations.map(({ from, to, why }) => ({ from, to, why })),
      [
        {
          from: "src/core/relay.ts",
          to: "src/mqtt/publisher.ts",
          why: "core and SDK must not import adapters and modules (above it)",
        },
        {
          from: "src/observability/health.ts",
          to: "src/core/relay.ts",
          why: "foundations must not import core and SDK (above it)",
        },
        {
          from: "src/sdk/agent.ts",
          to: "src/core/relay.ts",
          why: "src/sdk and src/core must not import each other",
        },
        {
          from: "transports/quic/server.ts",
          to: "transports/grpc/codec.ts",
          why: "transports never import each other",
        },
      ],
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("folders that import each other in a cycle fail, as do unlisted folders", async () => {
  const root = await tree({
    "src/auth/a.ts": 'import "../config/c.ts";\n',
    "src/config/c.ts": 'import "../errors/e.ts";\n',
    "src/errors/e.ts": 'import "../auth/a.ts";\n',
    "src/widgets/w.ts": 'import "../errors/e.ts";\n',
  });
  try {
    const whys = (await layerViolations(root)).map(({ why }) => why);
    assert.deepEqual(whys, [
      "folder cycle: src/auth -> src/config -> src/errors -> src/auth",
      "(unlisted) src/widgets is in no layer (add it to LAYERS)",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
