// A tiny element builder (no framework): h("td", { class: "x" }, "text", child).
// Text always goes in as text nodes, never as HTML.
export function h(tag, attributes = {}, ...children) {
  const svg = SVG_TAGS.has(tag);
  const element = svg
    ? document.createElementNS("http://www.w3.org/2000/svg", tag)
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

const SVG_TAGS = new Set([
  "svg",
  "g",
  "path",
  "line",
  "polyline",
  "text",
  "rect",
  "circle",
  "title",
]);

/** "3 s ago", "5 min ago", for a Unix ms time. */
export function ago(ms, now = Date.now()) {
  if (!ms) return "—";
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

export function isoTime(ms) {
  return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : "—";
}

/** The state badge every view uses. */
export function stateBadge(state) {
  return h(
    "span",
    { class: `badge state-${String(state).toLowerCase()}` },
    state,
  );
}
