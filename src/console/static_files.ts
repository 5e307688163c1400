// The console's page, style sheet and ES modules: files of this folder
// (static/), read on first request and kept in memory. `deno compile`
// embeds them (the compile task's --include src/console/static/), so the
// binary serves its own copy; no CDN, nothing from elsewhere.
import { CONSOLE_HEADERS } from "./http_status.ts";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  svg: "image/svg+xml",
};

/** Every file served, by name under /console/ ("" is the page). */
const FILES = [
  "index.html",
  "console.css",
  "app.js",
  "api.js",
  "fleet.js",
  "device.js",
  "charts.js",
  "call.js",
  "dom.js",
  "favicon.svg",
] as const;

export type StaticFile = () => Promise<Response>;

export function staticFiles(): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of FILES) {
    files.set(name, file(new URL(`./static/${name}`, import.meta.url)));
  }
  files.set("", files.get("index.html")!);
  return files;
}

function file(url: URL): StaticFile {
  let body: Promise<Uint8Array<ArrayBuffer>> | undefined;
  const type = TYPES[url.pathname.split(".").at(-1) ?? ""] ??
    "application/octet-stream";
  return async () => {
    body ??= Deno.readFile(url);
    body.catch(() => body = undefined); // retried on the next request
    return new Response(await body, {
      headers: { ...CONSOLE_HEADERS, "content-type": type },
    });
  };
}
