// The TypeScript examples of the docs type-check against the library as it
// is (they import "./mod.ts", as from the repository root), so a change to
// mod.ts that breaks them fails here and not in a user's hands.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PAGES = ["README.md", "docs/sdk.md", "docs/grpc-calls.md"];

for (const page of PAGES) {
  Deno.test(`the TypeScript examples of ${page} type-check`, async () => {
    const text = await Deno.readTextFile(`${ROOT}/${page}`);
    const examples = text.match(/^```ts$/gm)?.length ?? 0;
    if (page === "docs/sdk.md") assert.ok(examples >= 4, "examples found");
    if (examples === 0) return;
    const dir = await Deno.makeTempDir({ prefix: "docs-examples-" });
    try {
      const copy = `${dir}/${page.replaceAll("/", "_")}`;
      await Deno.writeTextFile(
        copy,
        text.replaceAll('from "./mod.ts"', `from "${ROOT}mod.ts"`),
      );
      const { code, stderr } = await new Deno.Command(Deno.execPath(), {
        args: ["check", "--config", `${ROOT}deno.json`, "--doc-only", copy],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(code, 0, new TextDecoder().decode(stderr));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
