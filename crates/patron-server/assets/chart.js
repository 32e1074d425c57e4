// Small SVG charts drawn from a report's rows: bars per day (one or more
// series side by side). Elements and text nodes only, no markup strings, no
// third-party code. Values are integers (minor units, hundredths of a point,
// counts); `fmt` turns one into its label.
const NS = "http://www.w3.org/2000/svg";

function el(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.append(document.createTextNode(String(text)));
  return e;
}

const COLOURS = ["#2f5bea", "#e08a1e", "#2a9d5c", "#b03a8c", "#6b7280"];

// labels: x labels; series: [{ name, values }]; a negative value draws down
// from zero.
export function barChart({ labels, series, fmt, title }) {
  const W = 720, H = 240, left = 64, right = 12, top = 24, bottom = 36;
  const all = series.flatMap((s) => s.values);
  const max = Math.max(0, ...all), min = Math.min(0, ...all);
  const span = max - min || 1;
  const y = (v) => top + ((max - v) / span) * (H - top - bottom);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": title || "chart", "data-testid": "chart" });
  if (title) svg.append(el("title", {}, title));
  // Axis: zero, the top and the bottom values.
  for (const v of [...new Set([max, 0, min])]) {
    svg.append(el("line", { x1: left, x2: W - right, y1: y(v), y2: y(v), class: v === 0 ? "axis" : "grid" }));
    svg.append(el("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, fmt(v)));
  }
  const n = Math.max(1, labels.length);
  const slot = (W - left - right) / n;
  const bw = Math.max(1, (slot * 0.8) / Math.max(1, series.length));
  labels.forEach((label, i) => {
    series.forEach((s, j) => {
      const v = s.values[i] || 0;
      const x = left + i * slot + slot * 0.1 + j * bw;
      const r = el("rect", { x, y: Math.min(y(v), y(0)), width: bw, height: Math.abs(y(v) - y(0)), fill: COLOURS[j % COLOURS.length] });
      r.append(el("title", {}, `${s.name}, ${label}: ${fmt(v)}`));
      svg.append(r);
    });
    // Every label when few, else about twelve.
    if (n <= 14 || i % Math.ceil(n / 12) === 0) {
      svg.append(el("text", { x: left + i * slot + slot / 2, y: H - bottom + 16, "text-anchor": "middle", class: "tick" }, label));
    }
  });
  series.forEach((s, j) => {
    svg.append(el("rect", { x: left + j * 150, y: 4, width: 10, height: 10, fill: COLOURS[j % COLOURS.length] }));
    svg.append(el("text", { x: left + j * 150 + 14, y: 13, class: "tick" }, s.name));
  });
  return svg;
}
