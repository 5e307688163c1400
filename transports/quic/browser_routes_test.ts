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
