// A device's page: what the fleet lists of it, its transport history and
// recent errors (kept by the relay, bounded), and the call form for roles
// that may send.
import { api } from "./api.js";
import { callForm } from "./call.js";
import { ago, h, isoTime, stateBadge } from "./dom.js";

/** Renders #/device/<id> into `view`; returns a function to refresh it. */
export async function renderDevice(view, deviceId, { me, store }) {
  let answer;
  try {
    answer = await api(`devices/${encodeURIComponent(deviceId)}`);
  } catch (error) {
    view.replaceChildren(
      h("p", { class: "back" }, h("a", { href: "#/fleet" }, "← Fleet")),
      h(
        "p",
        { class: "error", id: "device-error" },
        `${error.code}: ${error.message}`,
      ),
    );
    return;
  }
  // The live stream knows of a device that just left before the relay
  // forgets its session; the list wins for the state.
  const live = store.devices.get(deviceId);
  const device = answer.device ?? (live ? { ...live } : null);
  const state = live?.state === "OFFLINE" || !answer.device
    ? "OFFLINE"
    : answer.device.state;
  const history = answer.history;
  const form = me.can_call ? callForm(deviceId) : undefined;
  const previous = view.querySelector("#call-form");
  const keepForm = previous?.dataset.deviceId === deviceId ? previous : null;
  view.replaceChildren(
    h("p", { class: "back" }, h("a", { href: "#/fleet" }, "← Fleet")),
    h(
      "div",
      { class: "device-head" },
      h("h1", { id: "device-title" }, deviceId),
      h("span", { id: "device-state" }, stateBadge(state)),
    ),
    h(
      "div",
      { class: "columns" },
      h(
        "div",
        { class: "card" },
        h("h2", {}, "Session"),
        h(
          "dl",
          { class: "facts" },
          fact("Project", device?.project ?? history?.project ?? "—"),
          fact("Transport", device?.transport || "—"),
          fact(
            "Last seen",
            device
              ? `${ago(device.last_seen)} (${isoTime(device.last_seen)})`
              : "—",
          ),
          fact("Connected", device ? isoTime(device.connected_at) : "—"),
          fact(
            "Round-trip time",
            answer.rtt_ms === null
              ? `not measured (${answer.rtt_note})`
              : `${answer.rtt_ms} ms`,
          ),
          fact("Connection", device?.connection_id || "—"),
          fact("Relay", device?.relay_address || "—"),
          fact(
            "Own gRPC server",
            device ? (device.grpc_target ? "yes" : "no") : "—",
          ),
          history?.offlineAt
            ? fact("Offline since", isoTime(history.offlineAt))
            : null,
        ),
        h("h2", {}, "Metadata"),
        metadataTable(device?.metadata ?? {}),
      ),
      h(
        "div",
        { class: "card" },
        h("h2", {}, "Transport history"),
        table(
          "transport-history",
          ["When", "Event", "Transport", "Detail"],
          [...(history?.transports ?? [])].reverse().map((entry) => [
            isoTime(entry.at),
            entry.event,
            entry.transport || "—",
            entry.detail,
          ]),
          "Nothing recorded since the relay started.",
        ),
        h("h2", {}, "Recent errors"),
        table(
          "recent-errors",
          ["When", "Code", "What", "Message"],
          [...(history?.errors ?? [])].reverse().map((entry) => [
            isoTime(entry.at),
            entry.code,
            entry.what,
            entry.message,
          ]),
          "No errors recorded.",
        ),
      ),
    ),
    // The form keeps what the operator typed across live refreshes.
    form ? (keepForm ?? form) : null,
  );
}

function fact(name, value) {
  return [h("dt", {}, name), h("dd", {}, value)];
}

function metadataTable(metadata) {
  const entries = Object.entries(metadata);
  if (entries.length === 0) return h("p", { class: "muted" }, "None.");
  return h(
    "table",
    { class: "grid compact", id: "metadata" },
    h(
      "tbody",
      {},
      entries.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v))),
    ),
  );
}

function table(id, headings, rows, emptyText) {
  if (rows.length === 0) return h("p", { class: "muted", id }, emptyText);
  return h(
    "table",
    { class: "grid compact", id },
    h("thead", {}, h("tr", {}, headings.map((text) => h("th", {}, text)))),
    h(
      "tbody",
      {},
      rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c)))),
    ),
  );
}
