// The fleet table: the devices the token may see, kept current by the live
// stream. A device that leaves stays in the table as OFFLINE (greyed) for
// OFFLINE_KEPT_MS, so an operator sees it go rather than vanish.
import { ago, h, stateBadge } from "./dom.js";

const OFFLINE_KEPT_MS = 10 * 60 * 1000;

export class FleetStore {
  /** device_id -> row (with `offline_at` once it left). */
  devices = new Map();
  #listeners = new Set();

  onChange(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A live-stream event: "snapshot" or "changes". */
  apply(name, data) {
    const now = Date.now();
    if (name === "snapshot") {
      const ids = new Set(data.devices.map((d) => d.device_id));
      for (const [id, row] of this.devices) {
        if (!ids.has(id) && row.state !== "OFFLINE") this.#offline(row, now);
      }
      for (const row of data.devices) this.devices.set(row.device_id, row);
    } else if (name === "changes") {
      for (const row of data.upsert) this.devices.set(row.device_id, row);
      for (const id of data.remove) {
        const row = this.devices.get(id);
        if (row) this.#offline(row, now);
      }
    } else {
      return;
    }
    for (const [id, row] of this.devices) {
      if (row.offline_at && now - row.offline_at > OFFLINE_KEPT_MS) {
        this.devices.delete(id);
      }
    }
    for (const listener of this.#listeners) listener();
  }

  #offline(row, now) {
    this.devices.set(row.device_id, {
      ...row,
      state: "OFFLINE",
      offline_at: now,
    });
  }
}

export function renderFleet(store, elements) {
  const { tbody, count, empty, filters } = elements;
  const search = filters.search.value.trim().toLowerCase();
  const state = filters.state.value;
  const transport = filters.transport.value;
  const [labelKey, labelValue] = splitLabel(filters.label.value);
  const all = [...store.devices.values()].sort((a, b) =>
    a.device_id.localeCompare(b.device_id)
  );
  updateTransportOptions(filters.transport, all);
  const shown = all.filter((row) =>
    (!state || row.state === state) &&
    (!transport || row.transport === transport) &&
    (!labelKey || (labelValue === undefined
      ? labelKey in row.metadata
      : row.metadata[labelKey] === labelValue)) &&
    (!search || haystack(row).includes(search))
  );
  const now = Date.now();
  tbody.replaceChildren(...shown.map((row) => fleetRow(row, now)));
  const online = all.filter((row) => row.state !== "OFFLINE").length;
  count.textContent = `${online} online · ${shown.length} shown`;
  empty.hidden = shown.length > 0;
}

function fleetRow(row, now) {
  const link = `#/device/${encodeURIComponent(row.device_id)}`;
  return h(
    "tr",
    {
      "data-device-id": row.device_id,
      "data-state": row.state,
      class: row.state === "OFFLINE" ? "gone" : undefined,
    },
    h("td", {}, h("a", { href: link }, row.device_id)),
    h("td", {}, stateBadge(row.state)),
    h("td", {}, h("span", { class: "tag" }, row.transport || "—")),
    h("td", {}, row.project),
    h(
      "td",
      { title: new Date(row.last_seen).toISOString() },
      ago(row.offline_at ?? row.last_seen, now),
    ),
    h("td", {}, ago(row.connected_at, now)),
    h("td", { class: "muted" }, row.relay_address),
    h(
      "td",
      {},
      labels(row.metadata).map(([key, value]) =>
        h("span", { class: "label" }, `${key}=${value}`)
      ),
    ),
    h(
      "td",
      {},
      row.metadata["e2e.x25519"]
        ? h("span", {
          class: "tag",
          title: "the device published an end-to-end encryption key",
        }, "yes")
        : "—",
    ),
  );
}

/** Labels worth a chip: the E2E public key has its own column. */
function labels(metadata) {
  return Object.entries(metadata).filter(([key]) => !key.startsWith("e2e."));
}

function haystack(row) {
  return [
    row.device_id,
    row.project,
    row.transport,
    row.state,
    ...Object.entries(row.metadata).map(([k, v]) => `${k}=${v}`),
  ].join(" ").toLowerCase();
}

function splitLabel(text) {
  const trimmed = text.trim();
  if (!trimmed) return [];
  const at = trimmed.indexOf("=");
  return at < 0 ? [trimmed] : [trimmed.slice(0, at), trimmed.slice(at + 1)];
}

/** The transport filter offers the transports the fleet has. */
function updateTransportOptions(select, rows) {
  const known = new Set([...select.options].map((o) => o.value));
  for (const transport of new Set(rows.map((row) => row.transport))) {
    if (transport && !known.has(transport)) {
      select.append(h("option", { value: transport }, transport));
    }
  }
}
