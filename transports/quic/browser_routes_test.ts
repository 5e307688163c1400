import assert from "node:assert/strict";
import { browserRoutes } from "./browser_routes.ts";

const browserFile = (name: string) =>
  new URL(`./browser/${name}`, import.meta.url);

Deno.test("every module the browser client imports is served beside it, as the relay has it", async () => {
  const routes = browserRoutes({
    quicAddress: "localhost:0",
    serverCertPem: "",
  });
  const client = await Deno.readTextFile(browserFile("relay_web_client.js"));
  const imported = [...client.matchAll(/^import .* from "\.\/([^"]+)";$/gm)]
    .map((match) => match[1]!);
  // The codec table is the relay's own (relay_codec.ts imports it).
  assert.ok(imported.includes("relay_wire.js"));
  for (const name of ["relay_web_client.js", ...imported]) {
    const route = routes[`/demo/${name}`];
    assert.ok(route, `no route for /demo/${name}`);
    const response = await route();
    assert.match(response.headers.get("content-type")!, /^text\/javascript/);
    assert.equal(
      await response.text(),
      await Deno.readTextFile(browserFile(name)),
    );
  }
});

Deno.test("the demo page's modules and everything they import, @hpke through its import map, are served", async () => {
  const routes = browserRoutes({
    quicAddress: "localhost:0",
    serverCertPem: "",
  });
  const page = await Deno.readTextFile(browserFile("index.html"));
  const importMap = JSON.parse(
    /<script type="importmap">([\s\S]*?)<\/script>/.exec(page)![1]!,
  ).imports as Record<string, string>;
  const base = new URL("http://relay/demo/");
  const pending = [
    ...page.matchAll(/^\s*import .* from "([^"]+)";$/gm),
  ].map((match) => new URL(match[1]!, base));
  const seen = new Set<string>();
  while (pending.length > 0) {
    const url = pending.pop()!;
    if (seen.has(url.pathname)) continue;
    seen.add(url.pathname);
    const route = routes[url.pathname];
    assert.ok(route, `no route for ${url.pathname}`);
    const response = await route();
    assert.equal(response.status, 200, await response.clone().text());
    assert.match(response.headers.get("content-type")!, /^text\/javascript/);
    const source = await response.text();
    // Static imports and re-exports (dynamic import("crypto") is Node's fallback).
    for (
      const [, specifier] of source.matchAll(
        /^(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gm,
      )
    ) {
      const mapped = importMap[specifier!];
      pending.push(new URL(mapped ?? specifier!, mapped ? base : url));
    }
  }
  for (
    const name of ["relay_web_client.js", "e2e_session.js", "@hpke/core/mod.js"]
  ) {
    assert.ok(
      [...seen].some((path) => path.endsWith(name)),
      `${name} is not reached`,
    );
  }
});
