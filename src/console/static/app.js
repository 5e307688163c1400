// The console's shell: sign-in, hash routing (#/fleet, #/device/<id>,
// #/charts), the one live fleet stream every view shares, and sign-out when
// the relay says the token is no longer good.
import { api, followFleet, token } from "./api.js";
import { renderCharts } from "./charts.js";
import { renderDevice } from "./device.js";
import { FleetStore, renderFleet } from "./fleet.js";

const $ = (id) => document.getElementById(id);
const VIEWS = ["login", "fleet", "device", "charts"];

const store = new FleetStore();
let me;
let stopFleet;
/** What the current view must stop when the route changes. */
let cleanups = [];

const fleetElements = () => ({
  tbody: $("fleet").tBodies[0],
  count: $("fleet-count"),
  empty: $("fleet-empty"),
  filters: {
    search: $("search"),
    state: $("filter-state"),
    transport: $("filter-transport"),
    label: $("filter-label"),
  },
});

function show(view) {
  for (const name of VIEWS) $(`${name}-view`).hidden = name !== view;
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("active", link.dataset.view === view);
  }
}

function leaveView() {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
}

function every(ms, fn) {
  const timer = setInterval(fn, ms);
  cleanups.push(() => clearInterval(timer));
}

let routeGeneration = 0;

async function route() {
  leaveView();
  const generation = ++routeGeneration;
  if (!me) return show("login");
  const hash = location.hash || "#/fleet";
  if (hash.startsWith("#/device/")) {
    const deviceId = decodeURIComponent(hash.slice("#/device/".length));
    show("device");
    const view = $("device-view");
    const refresh = () => renderDevice(view, deviceId, { me, store });
    view.replaceChildren();
    await refresh();
    if (generation !== routeGeneration) return; // left while loading
    // Live: on every change of the fleet, and for "last seen" now and then.
    let pending;
    const off = store.onChange(() => {
      clearTimeout(pending);
      pending = setTimeout(refresh, 150);
    });
    cleanups.push(off, () => clearTimeout(pending));
    every(5000, refresh);
  } else if (hash === "#/charts") {
    show("charts");
    const draw = async () => {
      try {
        const metrics = await api("metrics");
        renderCharts($("charts"), metrics.samples);
        $("charts-note").textContent = `one sample every ${
          metrics.interval_ms / 1000
        } s · ${metrics.samples.length} of ${metrics.capacity} kept`;
      } catch (error) {
        if (error.status === undefined) console.error(error); // a bug, not the API
        handleApiError(error);
      }
    };
    every(2000, draw);
    await draw();
  } else {
    show("fleet");
    renderFleet(store, fleetElements());
  }
}

globalThis.addEventListener("hashchange", route);

function handleApiError(error) {
  if (error.status === 401) signOut(`${error.code}: ${error.message}`);
}

async function signIn() {
  try {
    me = await api("me");
  } catch (error) {
    token.clear();
    me = undefined;
    $("login-error").textContent = `${error.code ?? "ERROR"}: ${error.message}`;
    return route();
  }
  $("login-error").textContent = "";
  $("relay-id").textContent = me.relay_id;
  $("who").textContent = me.controller_id;
  $("role").textContent = me.role;
  $("role").className = `badge role-${me.role}`;
  $("whoami").hidden = false;
  $("nav").hidden = false;
  stopFleet = followFleet({
    onEvent: (name, data) => store.apply(name, data),
    onStatus: (status) => {
      $("live").textContent = status;
      $("live").className = `live ${status}`;
    },
    onAuthError: (error) => signOut(`${error.code}: ${error.message}`),
  });
  await route();
}

function signOut(reason = "") {
  token.clear();
  me = undefined;
  stopFleet?.();
  stopFleet = undefined;
  store.devices.clear();
  $("whoami").hidden = true;
  $("nav").hidden = true;
  $("login-error").textContent = reason;
  if (location.hash !== "" && location.hash !== "#/fleet") {
    location.hash = "#/fleet";
  }
  route();
}

store.onChange(() => {
  if (!$("fleet-view").hidden) renderFleet(store, fleetElements());
});
for (
  const id of ["search", "filter-state", "filter-transport", "filter-label"]
) {
  $(id).addEventListener("input", () => renderFleet(store, fleetElements()));
}
// "Last seen" ages while nothing else changes.
setInterval(() => {
  if (!$("fleet-view").hidden) renderFleet(store, fleetElements());
}, 5000);

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("token").value.trim();
  $("token").value = "";
  if (!value) return;
  token.set(value);
  signIn();
});
$("logout").addEventListener("click", () => signOut());

if (token.get()) signIn();
else route();
