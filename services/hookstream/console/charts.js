// Small hand-drawn SVG charts; each comes with the table of its numbers for screen readers and copying.

import { h, s } from "./dom.js";

export const PHASES = ["dns", "tcp", "tls", "ttfb", "transfer", "total"];
const WIDTH = 640;
const HEIGHT = 220;
const PAD = { left: 56, right: 12, top: 12, bottom: 28 };

function scale(max) {
  return (v) => PAD.top + (HEIGHT - PAD.top - PAD.bottom) * (1 - v / (max || 1));
}

/** Lines over the window [start, end): ``series`` is [{name, points: [[Date, number|null], ...]}]. */
export function lineChart(title, series, unit, start, end) {
  const times = [start.getTime(), end.getTime()];
  const values = series.flatMap((line) => line.points.map(([, v]) => v).filter((v) => v !== null));
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const max = Math.max(1, ...values);
  const x = (t) => PAD.left + (WIDTH - PAD.left - PAD.right) * (t1 === t0 ? 0.5 : (t - t0) / (t1 - t0));
  const y = scale(max);
  const ticks = [0, max / 2, max].map((v) => [
    s("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v), class: "grid" }),
    s("text", { x: PAD.left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, `${Math.round(v)} ${unit}`),
  ]);
  const lines = series.map((line, i) => {
    const known = line.points.filter(([, v]) => v !== null).map(([t, v]) => [x(t.getTime()), y(v)]);
    return [
      known.length > 1
        ? s("polyline", { points: known.map((p) => p.join(",")).join(" "), class: `series s${i}`, fill: "none" })
        : null,
      known.map(([cx, cy]) => s("circle", { cx, cy, r: 3, class: `s${i}`, "data-series": line.name })),
    ];
  });
  const labels = times.length
    ? [[t0, "start"], [t1, "end"]].map(([t, anchor]) =>
        s("text", { x: x(t), y: HEIGHT - 8, "text-anchor": anchor, class: "tick" },
          new Date(t).toISOString().slice(5, 16).replace("T", " ")))
    : [];
  return h("figure", { class: "chart" },
    s("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": title },
      s("title", {}, title), ticks, lines, labels),
    h("figcaption", {}, h("ul", { class: "legend" },
      series.map((line, i) => h("li", {}, h("span", { class: `key s${i}`, "aria-hidden": "true" }), line.name)))));
}

/** Horizontal bars: [[label, value], ...]. */
export function barChart(title, bars) {
  const max = Math.max(1, ...bars.map(([, v]) => v));
  const row = 26;
  const height = bars.length * row + 8;
  return h("figure", { class: "chart" },
    s("svg", { viewBox: `0 0 ${WIDTH} ${height}`, role: "img", "aria-label": title }, s("title", {}, title),
      bars.map(([label, value], i) => [
        s("text", { x: 0, y: i * row + 18, class: "tick" }, label),
        s("rect", { x: 120, y: i * row + 5, height: 18, width: Math.max(1, (400 * value) / max), class: `bar s${i}` }),
        s("text", { x: 128 + (400 * value) / max, y: i * row + 18, class: "tick" }, String(value)),
      ])));
}

/** The attempt's phases one after another, as a browser's network panel draws them. */
export function waterfall(phases, total) {
  const span = Math.max(total, phases.reduce((sum, [, v]) => sum + v, 0), 1);
  const row = 26;
  const inner = WIDTH - 140 - 80;
  let start = 0;
  const bars = phases.map(([label, value], i) => {
    const x = 140 + (inner * start) / span;
    const w = Math.max(1, (inner * value) / span);
    start += value;
    return [
      s("text", { x: 0, y: i * row + 18, class: "tick" }, label),
      s("rect", { x, y: i * row + 5, width: w, height: 18, class: `bar s${i}` }),
      s("text", { x: x + w + 6, y: i * row + 18, class: "tick" }, `${value} ms`),
    ];
  });
  const i = phases.length;
  bars.push([
    s("text", { x: 0, y: i * row + 18, class: "tick" }, "total"),
    s("rect", { x: 140, y: i * row + 5, width: Math.max(1, (inner * total) / span), height: 18, class: "bar total" }),
    s("text", { x: 146 + (inner * total) / span, y: i * row + 18, class: "tick" }, `${total} ms`),
  ]);
  return s("svg", { viewBox: `0 0 ${WIDTH} ${(i + 1) * row + 8}`, role: "img", "aria-label": "Timing waterfall",
    class: "waterfall" },
    s("title", {}, "Timing waterfall"), bars);
}
