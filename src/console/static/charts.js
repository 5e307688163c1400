// The relay's charts over the last 15 minutes, drawn as plain SVG from the
// samples of GET api/metrics (no chart library).
import { h } from "./dom.js";

const SPAN_MS = 15 * 60 * 1000;
/** A relay that just started shows what it has, over at least this span. */
const MIN_SPAN_MS = 60 * 1000;
const WIDTH = 560;
const HEIGHT = 190;
const PAD = { left: 48, right: 12, top: 12, bottom: 24 };
const COLORS = [
  "#1f6feb",
  "#d29922",
  "#2da44e",
  "#cf222e",
  "#8250df",
  "#57606a",
];

/** The four charts, from the samples (oldest first). */
export function renderCharts(container, samples, now = Date.now()) {
  const first = samples[0]?.at ?? now;
  const span = Math.min(SPAN_MS, Math.max(MIN_SPAN_MS, now - first));
  const transports = [
    ...new Set(samples.flatMap((s) => Object.keys(s.devicesByTransport))),
  ].sort();
  container.replaceChildren(
    chart(
      "chart-requests",
      "Requests / s",
      [
        series("requests/s", samples, (s) => s.requestsPerSecond),
      ],
      now,
      span,
    ),
    chart(
      "chart-errors",
      "Errors / s (answers other than OK)",
      [
        series("errors/s", samples, (s) => s.errorsPerSecond),
      ],
      now,
      span,
      { colors: ["#cf222e"] },
    ),
    chart(
      "chart-latency",
      "Latency (ms)",
      [
        series(
          "p50",
          samples,
          (s) => s.p50Seconds === null ? null : s.p50Seconds * 1000,
        ),
        series(
          "p99",
          samples,
          (s) => s.p99Seconds === null ? null : s.p99Seconds * 1000,
        ),
      ],
      now,
      span,
    ),
    chart(
      "chart-devices",
      "Devices by transport",
      (transports.length ? transports : ["none"]).map((transport) =>
        series(transport, samples, (s) => s.devicesByTransport[transport] ?? 0)
      ),
      now,
      span,
      { integer: true },
    ),
  );
}

function series(name, samples, value) {
  return { name, points: samples.map((s) => ({ at: s.at, value: value(s) })) };
}

function chart(
  id,
  title,
  lines,
  now,
  span,
  { colors = COLORS, integer = false } = {},
) {
  const values = lines.flatMap((l) => l.points.map((p) => p.value)).filter((
    v,
  ) => v !== null);
  const max = niceMax(Math.max(0, ...values), integer);
  const x = (at) =>
    PAD.left + (WIDTH - PAD.left - PAD.right) * (1 - (now - at) / span);
  const y = (v) => PAD.top + (HEIGHT - PAD.top - PAD.bottom) * (1 - v / max);
  const grid = [0, 0.5, 1].map((f) => {
    const v = max * f;
    return h(
      "g",
      { class: "grid-line" },
      h("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v) }),
      h(
        "text",
        { x: PAD.left - 6, y: y(v) + 4, "text-anchor": "end" },
        format(v),
      ),
    );
  });
  const ticks = [1, 2 / 3, 1 / 3, 0].map((fraction) =>
    h(
      "text",
      {
        x: x(now - fraction * span),
        y: HEIGHT - 6,
        "text-anchor": "middle",
        class: "tick",
      },
      fraction === 0 ? "now" : `−${ago(fraction * span)}`,
    )
  );
  const paths = lines.map((line, i) =>
    h("path", {
      d: pathOf(line.points.filter((p) => now - p.at <= span), x, y),
      stroke: colors[i % colors.length],
      fill: "none",
      "stroke-width": 2,
      "data-series": line.name,
    })
  );
  const last = lines.map((line, i) => {
    const value = line.points.at(-1)?.value;
    return h(
      "span",
      { class: "legend-item" },
      h(
        "svg",
        { class: "swatch", width: 10, height: 10, viewBox: "0 0 10 10" },
        h("rect", {
          width: 10,
          height: 10,
          rx: 2,
          fill: colors[i % colors.length],
        }),
      ),
      `${line.name}: ${
        value === null || value === undefined ? "—" : format(value)
      }`,
    );
  });
  return h(
    "figure",
    { class: "card chart", id },
    h("figcaption", {}, title, h("span", { class: "legend" }, last)),
    h(
      "svg",
      { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": title },
      grid,
      ticks,
      paths,
    ),
  );
}

/** An SVG path through the points; a null value breaks the line. */
function pathOf(points, x, y) {
  let d = "";
  let pen = "M";
  for (const { at, value } of points) {
    if (value === null) {
      pen = "M";
      continue;
    }
    d += `${pen}${x(at).toFixed(1)},${y(value).toFixed(1)} `;
    pen = "L";
  }
  return d.trim() || "M0,0";
}

/** "15 min", "40 s" */
function ago(ms) {
  const seconds = Math.round(ms / 1000);
  return seconds >= 60 && seconds % 60 === 0
    ? `${seconds / 60} min`
    : `${seconds} s`;
}

function niceMax(value, integer) {
  if (value <= 0) return integer ? 1 : 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const nice =
    [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((m) => m >= value) ??
      value;
  return integer ? Math.max(1, Math.ceil(nice)) : nice;
}

function format(value) {
  if (value === 0) return "0";
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 1) return value.toFixed(1);
  return value.toPrecision(2);
}
