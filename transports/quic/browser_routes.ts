// HTTP routes for browser controllers, served on the relay's health port:
// the WebTransport demo page, the browser client modules, protobufjs and
// relay.proto (parsed by the browser at run time), the end-to-end modules
// and the @hpke packages they import, and /webtransport, which
// tells the page where the QUIC listener is and which certificate to pin.
import "reflect-metadata"; // @peculiar/x509 needs the Reflect metadata API
import * as x509 from "@peculiar/x509";
import { createRequire } from "node:module";
import { formatHostPort, parseHostPort } from "../../src/config/host_port.ts";
import { certificateSha256 } from "../../src/tls/dev_pki.ts";
import { browserPackageRoutes, type Routes } from "./browser_packages.ts";

export interface BrowserRoutesOptions {
  /** host:port of the QUIC listener as browsers should dial it, e.g. "localhost:50052". */
  quicAddress: string;
  /** PEM of the certificate the QUIC listener presents (first one in the chain). */
  serverCertPem: string;
}

export type { Routes };

/** serverCertificateHashes only accepts certificates valid for at most 14 days. */
const MAX_PINNABLE_VALIDITY_MS = 14 * 24 * 60 * 60 * 1000;

const JAVASCRIPT = "text/javascript; charset=utf-8";

export function browserRoutes(options: BrowserRoutesOptions): Routes {
  const here = (path: string) => new URL(path, import.meta.url);
  // Node resolution finds the same protobufjs the relay uses (node_modules
  // locally, the embedded copy in a compiled binary); resolved on first use
  // so a missing file fails that route only, never the relay's start.
  const protobufjs = () =>
    createRequire(import.meta.url).resolve("protobufjs/dist/protobuf.min.js");
  const page = file(here("./browser/index.html"), "text/html; charset=utf-8");
  let info: Promise<Response> | undefined;
  return {
    // The page itself, not a redirect: that would drop the query (?token=).
    "/demo": page,
    "/demo/": page,
    "/demo/index.html": page,
    "/demo/relay_web_client.js": file(
      here("./browser/relay_web_client.js"),
      JAVASCRIPT,
    ),
    // The codec table and framing the relay itself imports.
    "/demo/relay_wire.js": file(here("./browser/relay_wire.js"), JAVASCRIPT),
    ...Object.fromEntries(
      ["relay_client_error.js", "e2e_controller.js", "e2e_session.js"].map((
        name,
      ) => [`/demo/${name}`, file(here(`./browser/${name}`), JAVASCRIPT)]),
    ),
    // @hpke/core and @hpke/common (e2e_session.js imports them).
    ...browserPackageRoutes((path) => file(path, JAVASCRIPT)),
    "/demo/protobuf.min.js": file(protobufjs, JAVASCRIPT),
    "/demo/relay.proto": file(
      here("../../proto/relay/v1/relay.proto"),
      "text/plain; charset=utf-8",
    ),
    "/webtransport": async () => {
      info ??= webTransportInfo(options).then((body) => Response.json(body));
      info.catch(() => info = undefined); // retried on the next request
      return (await info).clone();
    },
  };
}

export interface WebTransportInfo {
  /** WebTransport URL of the relay's QUIC listener. */
  url: string;
  /**
   * SHA-256 of the server certificate (base64) for serverCertificateHashes;
   * null when the certificate cannot be pinned (valid for more than 14 days),
   * so the browser verifies it against its trusted roots instead.
   */
  certificateHashBase64: string | null;
}

export async function webTransportInfo(
  options: BrowserRoutesOptions,
): Promise<WebTransportInfo> {
  const { host, port } = parseHostPort(options.quicAddress);
  // The relay advertises a wildcard bind ("0.0.0.0") as localhost, and
  // Chromium's WebTransport to "localhost" dials ::1 without falling back
  // to 127.0.0.1 (ERR_CONNECTION_REFUSED against an IPv4 bind).
  const loopback = host === "localhost" ? "127.0.0.1" : host;
  const pem = firstCertificate(options.serverCertPem);
  const cert = new x509.X509Certificate(pem);
  const pinnable = cert.notAfter.getTime() - cert.notBefore.getTime() <=
    MAX_PINNABLE_VALIDITY_MS;
  return {
    url: `https://${formatHostPort(loopback, port)}/`,
    certificateHashBase64: pinnable
      ? btoa(String.fromCharCode(...await certificateSha256(pem)))
      : null,
  };
}

/** A route serving one file, read on first request and kept in memory. */
function file(
  path: URL | string | (() => URL | string),
  contentType: string,
): () => Promise<Response> {
  let body: Promise<Uint8Array<ArrayBuffer>> | undefined;
  return async () => {
    body ??= Promise.resolve()
      .then(() => Deno.readFile(typeof path === "function" ? path() : path));
    body.catch(() => body = undefined); // retried on the next request
    return new Response(await body, {
      headers: { "content-type": contentType, "cache-control": "no-cache" },
    });
  };
}

function firstCertificate(pem: string): string {
  const match = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/
    .exec(pem);
  return match ? match[0] + "\n" : pem;
}
