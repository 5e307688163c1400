// Health (component-level JSON) and Prometheus metrics on one HTTP port.
import type { Registry } from "prom-client";
import { RelayError } from "../errors/relay_error.ts";

export type ComponentStatus = "healthy" | "degraded" | "unhealthy";

export interface HealthReport {
  /** "draining": devices are moving away, the relay stops next (503 too). */
  status: ComponentStatus | "draining";
  components: Record<string, { status: ComponentStatus; message: string }>;
  [key: string]: unknown;
}

export interface HealthServerOptions {
  hostname: string;
  port: number;
  healthPath: string;
  report: () => HealthReport;
  metrics: Registry;
  /** More GET routes by exact path (the WebTransport demo page and its assets). */
  routes?: Record<string, () => Response | Promise<Response>>;
  /**
   * Handlers of every path under a prefix, any method (the operator console
   * under "/console/"); the prefix ends with "/", and the bare prefix
   * without it redirects there.
   */
  prefixes?: Record<string, PrefixHandler>;
}

export type PrefixHandler = (
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

export interface HealthServer {
  readonly port: number;
  shutdown(): Promise<void>;
}

export function startHealthServer(
  options: HealthServerOptions,
): Promise<HealthServer> {
  return new Promise((resolve, reject) => {
    try {
      const server = Deno.serve({
        hostname: options.hostname,
        port: options.port,
        onListen: ({ port }) =>
          resolve({ port, shutdown: () => server.shutdown() }),
        onError: () => new Response("internal error", { status: 500 }),
      }, async (request, info) => {
        const path = new URL(request.url).pathname;
        if (path === options.healthPath) {
          const report = options.report();
          return Response.json(report, {
            status:
              report.status === "unhealthy" || report.status === "draining"
                ? 503
                : 200,
          });
        }
        if (path === "/metrics") {
          return new Response(await options.metrics.metrics(), {
            headers: { "content-type": options.metrics.contentType },
          });
        }
        const route = options.routes?.[path];
        if (route !== undefined && request.method === "GET") {
          return await route();
        }
        for (const [prefix, handle] of Object.entries(options.prefixes ?? {})) {
          if (path.startsWith(prefix)) return await handle(request, info);
          if (path === prefix.slice(0, -1)) {
            return new Response(null, {
              status: 308,
              headers: { location: prefix },
            });
          }
        }
        return new Response("not found\n", { status: 404 });
      });
    } catch (error) {
      reject(
        new RelayError(
          "UNAVAILABLE",
          `cannot listen on observability.health.address ${options.hostname}:${options.port}`,
          { cause: error },
        ),
      );
    }
  });
}
