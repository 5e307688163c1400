import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { buildConfig, loadConfig } from "./load_config.ts";

const EXAMPLE = fileURLToPath(
  new URL("../../deploy/relay.yaml", import.meta.url),
);

Deno.test("deploy/relay.yaml lists every key at its default", async () => {
  const fromFile = await loadConfig({ path: EXAMPLE, env: {} });
  assert.deepEqual(fromFile, buildConfig({}));
  // Every key is spelled out, so the example documents the whole schema.
  const leaves = (tree: Record<string, unknown>): number =>
    Object.values(tree).reduce<number>(
      (sum, value) =>
        sum +
        (value !== null && typeof value === "object"
          ? leaves(value as Record<string, unknown>)
          : 1),
      0,
    );
  const written = parse(await Deno.readTextFile(EXAMPLE)) as Record<
    string,
    unknown
  >;
  assert.equal(
    leaves(written),
    leaves(buildConfig({}) as unknown as Record<string, unknown>),
  );
});
