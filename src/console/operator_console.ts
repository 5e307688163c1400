// The operator console at /console/ on the health port: the page's files
// and its JSON API. Every API request carries the controller JWT and gets
// the gRPC API's RBAC: anyone sees the devices of their projects (admins
// all), only roles that may send call them, within the method allow-lists.
// It owns the bounded state behind the views: the live fleet feed, the
// per-device history and the 15-minute metrics ring.
import { canSee, type MethodPolicy } from "../auth/access_policy.ts";
import type {
  ControllerAuthenticator,
  ControllerPrincipal,
} from "../auth/controller_auth.ts";
import type { PresenceEvent } from "../core/device_registry.ts";
import type { Gatekeeper, Peer } from "../core/gatekeeper.ts";
import { visibleDevices } from "../core/list_online_devices.ts";
import type { DeviceInfo } from "../core/messages.ts";
import type { RequestRouter } from "../core/request_router.ts";
import { formatHostPort } from "../config/host_port.ts";
import { RelayError } from "../errors/relay_error.ts";
import { MetricsHistory } from "../observability/metrics_history.ts";
import type { Registry } from "prom-client";
import { authenticate } from "./console_auth.ts";
import { consoleCall, parseCallInput } from "./console_call.ts";
import { DeviceHistory } from "./device_history.ts";
import { deviceRow, FleetFeed } from "./fleet_feed.ts";
import {
  CONSOLE_HEADERS,
  errorResponse,
  httpStatusOfAnswer,
  jsonResponse,
} from "./http_status.ts";
import { readJsonBody } from "./read_json_body.ts";
import { type StaticFile, staticFiles } from "./static_files.ts";

export const CONSOLE_PREFIX = "/console/";
/** Live streams open at once (each costs a listing per refresh). */
const MAX_STREAMS = 32;
/** How often live streams re-list the fleet and re-check their token. */
const REFRESH_MS = 5_000;
const NO_FILTER = { region_filter: "", label_filter: {} } as const;

export interface OperatorConsoleOptions {
  relayId: string;
  auth: ControllerAuthenticator;
  gate: Gatekeeper;
  router: RequestRouter;
  methodPolicy: MethodPolicy;
  /** This relay's devices (RelayCore.localDevices). */
  localDevices: () => DeviceInfo[];
  /** Devices other relays of the cluster hold (none for a relay alone). */
  remoteDevices: () => readonly DeviceInfo[];
  /** Project of a device known here or to the store. */
  deviceProject: (deviceId: string) => string | undefined;
  registry: Registry;
  sampleIntervalMs: number;
  /** relay.request.max_payload_bytes: bounds the call form's body. */
  maxPayloadBytes: number;
  /** Live-stream refresh period (tests shorten it). */
  refreshMs?: number;
}

export class OperatorConsole {
  readonly #options: OperatorConsoleOptions;
  readonly #files: Map<string, StaticFile>;
  readonly history = new DeviceHistory();
  readonly metrics: MetricsHistory;
  readonly feed: FleetFeed;

  constructor(options: OperatorConsoleOptions) {
    this.#options = options;
    this.#files = staticFiles();
    this.metrics = new MetricsHistory({
      registry: options.registry,
      intervalMs: options.sampleIntervalMs,
    });
    this.feed = new FleetFeed({
      list: (principal) => this.#visible(principal),
      verify: (token) => options.auth.verify(token),
      refreshMs: options.refreshMs ?? REFRESH_MS,
      maxSubscribers: MAX_STREAMS,
    });
    options.router.onAnswer((answer) => this.history.onAnswer(answer));
    this.metrics.start();
  }

  onPresence(event: PresenceEvent): void {
    this.history.onPresence(event);
    this.feed.notify();
  }

  close(): void {
    this.metrics.close();
    this.feed.close();
  }

  /** Serves every path under /console/. */
  async handle(
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Promise<Response> {
    const path = new URL(request.url).pathname.slice(CONSOLE_PREFIX.length);
    try {
      if (!path.startsWith("api/")) {
        const file = this.#files.get(path);
        if (file === undefined) {
          throw new RelayError("DEVICE_NOT_FOUND", `no such file: ${path}`);
        }
        allowMethods(request, "GET");
        return await file();
      }
      const peer: Peer = { remoteAddress: remote(info), transport: "http" };
      return await this.#api(path.slice("api/".length), request, peer);
    } catch (error) {
      return errorResponse(error);
    }
  }

  async #api(path: string, request: Request, peer: Peer): Promise<Response> {
    const known = ["me", "devices", "events", "metrics", "call"];
    if (!known.includes(path) && !path.startsWith("devices/")) {
      throw new RelayError("DEVICE_NOT_FOUND", `no such API: ${path}`);
    }
    allowMethods(request, path === "call" ? "POST" : "GET");
    const { principal, token } = await authenticate(request, peer, {
      auth: this.#options.auth,
      gate: this.#options.gate,
    });
    switch (path) {
      case "me":
        return jsonResponse({
          controller_id: principal.controllerId,
          role: principal.role,
          projects: principal.projects,
          can_call: principal.role !== "viewer",
          relay_id: this.#options.relayId,
          expires_at: principal.expiresAt,
        });
      case "devices":
        return jsonResponse({
          devices: this.#visible(principal).map(deviceRow),
        });
      case "events":
        return new Response(
          this.feed.subscribe(principal, token),
          {
            headers: {
              ...CONSOLE_HEADERS,
              "content-type": "text/event-stream; charset=utf-8",
            },
          },
        );
      case "metrics":
        return jsonResponse({
          interval_ms: this.#options.sampleIntervalMs,
          capacity: this.metrics.capacity,
          samples: this.metrics.samples(),
        });
      case "call": {
        const input = parseCallInput(
          await readJsonBody(request, callBodyLimit(this.#options)),
        );
        // Not request.signal: Deno aborts it after every response too
        // (legacy behaviour); a call whose page went away runs to its
        // deadline, which the router bounds.
        const result = await consoleCall(principal, input, {
          peer,
          signal: new AbortController().signal,
        }, this.#options);
        return jsonResponse(result, httpStatusOfAnswer(result.code));
      }
      default:
        return this.#device(principal, deviceIdOf(path));
    }
  }

  /** One device's page: what the fleet lists of it, and its recent history. */
  #device(principal: ControllerPrincipal, deviceId: string): Response {
    const listed = this.#visible(principal).find((info) =>
      info.device_id === deviceId
    );
    const history = this.history.get(deviceId);
    const visibleHistory = history && canSee(principal, history.project)
      ? history
      : undefined;
    if (listed === undefined && visibleHistory === undefined) {
      throw new RelayError(
        "DEVICE_NOT_FOUND",
        "device not found or not accessible",
        { source: "downstream" },
      );
    }
    return jsonResponse({
      device: listed ? deviceRow(listed) : null,
      history: visibleHistory ?? null,
      // No transport of this relay measures round trips (the device sends
      // heartbeats; nothing echoes a timestamp back), so none is invented.
      rtt_ms: null,
      rtt_note: "not measured by this relay",
    });
  }

  #visible(principal: ControllerPrincipal): DeviceInfo[] {
    return visibleDevices(this.#options.localDevices(), NO_FILTER, {
      principal,
      remote: this.#options.remoteDevices(),
    });
  }
}

/** The device id of "devices/<id>" (percent-encoded by the page). */
function deviceIdOf(path: string): string {
  try {
    return decodeURIComponent(path.slice("devices/".length));
  } catch (error) {
    throw new RelayError("INVALID_REQUEST", "malformed device id in the path", {
      source: "downstream",
      cause: error,
    });
  }
}

function allowMethods(request: Request, method: "GET" | "POST"): void {
  if (request.method === method) return;
  if (method === "GET" && request.method === "HEAD") return;
  throw new RelayError(
    "INVALID_REQUEST",
    `method ${request.method} not allowed here: use ${method}`,
    { source: "downstream" },
  );
}

/** A payload of max_payload_bytes in base64, plus room for the other fields. */
function callBodyLimit(options: OperatorConsoleOptions): number {
  return Math.ceil(options.maxPayloadBytes * 4 / 3) + 16 * 1024;
}

function remote(info: Deno.ServeHandlerInfo<Deno.NetAddr>): string {
  return formatHostPort(info.remoteAddr.hostname, info.remoteAddr.port);
}
