// npm packages the browser client imports, served from the relay's own
// node_modules (the embedded copy in a compiled binary: deno.json's compile
// task includes them): @hpke/core and its dependency @hpke/common, their
// browser-ready ES modules (esm/), under /demo/vendor/<package>/. The demo
// page's import map points the bare specifiers at them, as deno.json does
// for Deno. Nothing is fetched from the internet.
import { createRequire } from "node:module";
import { dirname, join, relative, sep } from "node:path";

/** Where the page finds the packages (relative to /demo/). */
export const VENDOR_PREFIX = "/demo/vendor/";

/** The package, and from which package's location it is resolved. */
const PACKAGES = [
  { name: "@hpke/core", from: undefined },
  { name: "@hpke/common", from: "@hpke/core" },
] as const;

export type Route = () => Response | Promise<Response>;
export type Routes = Record<string, Route>;

/**
 * One route per ES module file of each package. A package that cannot be
 * found gets one route, its entry point, answering 500 with the reason:
 * the relay starts anyway, and the page says what is missing.
 * @param serveFile the route serving one JavaScript file
 */
export function browserPackageRoutes(
  serveFile: (path: string) => Route,
): Routes {
  const routes: Routes = {};
  const roots = new Map<string, string>();
  for (const { name, from } of PACKAGES) {
    const entry = `${VENDOR_PREFIX}${name}/mod.js`;
    try {
      const base = from === undefined
        ? import.meta.url
        : join(roots.get(from) ?? "", "package.json");
      const root = dirname(
        createRequire(base).resolve(`${name}/package.json`),
      );
      roots.set(name, root);
      const esm = join(root, "esm");
      for (const path of moduleFiles(esm)) {
        const url = relative(esm, path).split(sep).join("/");
        routes[`${VENDOR_PREFIX}${name}/${url}`] = serveFile(path);
      }
    } catch (error) {
      const reason = `cannot serve ${name}: ${
        error instanceof Error ? error.message : String(error)
      }\n`;
      routes[entry] = () => new Response(reason, { status: 500 });
    }
  }
  return routes;
}

/** Every .js file under `dir` (not the type declarations or source maps). */
function moduleFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) files.push(...moduleFiles(path));
    else if (entry.name.endsWith(".js")) files.push(path);
  }
  return files;
}
