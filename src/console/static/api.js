// The console's JSON API, with the token from sessionStorage in the
// Authorization header (never in a URL, never logged).
const TOKEN_KEY = "relay-console-token";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) ?? "",
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

function headers(extra = {}) {
  return { authorization: `Bearer ${token.get()}`, ...extra };
}

/** GET or POST one API path ("me", "devices", ...); throws ApiError on a non-2xx. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const response = await fetch(`api/${path}`, {
    method,
    headers: headers(body ? { "content-type": "application/json" } : {}),
    body: body ? JSON.stringify(body) : undefined,
    signal,
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok && path !== "call") {
    throw new ApiError(
      response.status,
      json.code ?? "INTERNAL_ERROR",
      json.message ?? response.statusText,
    );
  }
  return { status: response.status, ...json };
}

/**
 * Follows the live fleet stream: server-sent events read from a fetch body
 * (EventSource cannot send the Authorization header). Reconnects with a
 * growing pause; a stream silent for `staleMs` is dropped and reopened.
 * `onEvent(name, data)`; `onStatus("live" | "reconnecting" | "closed")`.
 * Returns a function that stops it.
 */
export function followFleet(
  { onEvent, onStatus, onAuthError, staleMs = 20_000 },
) {
  let stopped = false;
  let controller;
  let pauseMs = 500;
  const run = async () => {
    while (!stopped) {
      controller = new AbortController();
      let stale;
      const touch = () => {
        clearTimeout(stale);
        stale = setTimeout(() => controller.abort(), staleMs);
      };
      try {
        touch();
        const response = await fetch("api/events", {
          headers: headers(),
          signal: controller.signal,
        });
        if (response.status === 401 || response.status === 403) {
          const json = await response.json().catch(() => ({}));
          onAuthError(new ApiError(response.status, json.code, json.message));
          return;
        }
        if (!response.ok || !response.body) {
          throw new Error(`HTTP ${response.status}`);
        }
        onStatus("live");
        pauseMs = 500;
        for await (const [name, data] of sseEvents(response.body, touch)) {
          if (name === "error" && data.code === "UNAUTHORIZED") {
            onAuthError(new ApiError(401, data.code, data.message));
            return;
          }
          onEvent(name, data);
        }
      } catch (_error) {
        // Dropped or stale: reconnect below (a fresh snapshot comes first).
      } finally {
        clearTimeout(stale);
      }
      if (stopped) break;
      onStatus("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      pauseMs = Math.min(pauseMs * 2, 10_000);
    }
    onStatus("closed");
  };
  run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}

/** Parses a text/event-stream body into [event, data] pairs. */
async function* sseEvents(body, onBytes) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      onBytes();
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) name = line.slice(7);
          else if (line.startsWith("data: ")) data.push(line.slice(6));
        }
        if (data.length > 0) yield [name, JSON.parse(data.join("\n"))];
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
