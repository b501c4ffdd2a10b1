// Small SVG time-series chart: lines on one or two y axes, horizontal
// threshold lines (the four warning levels), a "now" marker and a legend.
// No library. Times are epoch milliseconds, shown in Asia/Shanghai.

import { COLOURS, svgEl as el, word } from "./levels.js";

const W = 900, H = 300, M = { l: 58, r: 58, t: 30, b: 36 };

function niceTicks(lo, hi, n = 5) {
  const span = hi - lo || 1;
  const step0 = span / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= step0) || step0;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(+v.toFixed(6));
  return out;
}

function hourLabel(t) {
  return new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false }).format(new Date(t));
}

function dayLabel(t) {
  return new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit" }).format(new Date(t));
}

// spec: {t0, t1, now, series: [{label, points, stroke, dash, width, axis, maxGapMs, marker}],
//        hlines: [{value, level, label}], yUnit, y2Unit, empty}
export function drawChart(svg, spec) {
  svg.innerHTML = "";
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const { t0, t1 } = spec;
  const px = (t) => M.l + ((t - t0) / (t1 - t0 || 1)) * (W - M.l - M.r);
  const range = (axis) => {
    let lo = Infinity, hi = -Infinity;
    for (const s of spec.series) {
      if ((s.axis || "left") !== axis) continue;
      for (const [t, v] of s.points) if (t >= t0 && t <= t1 && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    if (axis === "left") for (const h of spec.hlines || []) if (isFinite(h.value)) { lo = Math.min(lo, h.value); hi = Math.max(hi, h.value); }
    if (!isFinite(lo)) return null;
    if (spec.zeroBased && spec.zeroBased[axis]) lo = Math.min(0, lo);
    const pad = (hi - lo) * 0.08 || 0.5;
    return [lo - pad, hi + pad];
  };
  const yl = range("left"), yr = range("right");
  const py = (r) => (v) => H - M.b - ((v - r[0]) / (r[1] - r[0])) * (H - M.t - M.b);

  el("rect", { x: M.l, y: M.t, width: W - M.l - M.r, height: H - M.t - M.b, class: "chart-bg" }, svg);
  // future (forecast) half shaded
  if (spec.now && spec.now < t1) {
    const xn = Math.max(M.l, px(spec.now));
    el("rect", { x: xn, y: M.t, width: W - M.r - xn, height: H - M.t - M.b, class: "chart-future" }, svg);
  }
  // time axis: every 6 h
  const step = 6 * 3600e3;
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    const x = px(t);
    el("line", { x1: x, x2: x, y1: M.t, y2: H - M.b, class: "chart-grid" }, svg);
    const lab = el("text", { x, y: H - M.b + 18, class: "chart-tick", "text-anchor": "middle" }, svg);
    const local = new Date(t + 8 * 3600e3);
    lab.textContent = local.getUTCHours() === 0 ? dayLabel(t) : hourLabel(t);
  }
  if (yl) {
    for (const v of niceTicks(yl[0], yl[1])) {
      const y = py(yl)(v);
      el("line", { x1: M.l, x2: W - M.r, y1: y, y2: y, class: "chart-grid" }, svg);
      const lab = el("text", { x: M.l - 6, y: y + 5, class: "chart-tick", "text-anchor": "end" }, svg);
      lab.textContent = String(v);
    }
    const u = el("text", { x: M.l - 6, y: M.t - 10, class: "chart-unit", "text-anchor": "end" }, svg);
    u.textContent = spec.yUnit || "";
  }
  if (yr) {
    for (const v of niceTicks(yr[0], yr[1], 4)) {
      const lab = el("text", { x: W - M.r + 6, y: py(yr)(v) + 5, class: "chart-tick" }, svg);
      lab.textContent = String(v);
    }
    const u = el("text", { x: W - M.r + 6, y: M.t - 10, class: "chart-unit" }, svg);
    u.textContent = spec.y2Unit || "";
  }
  // warning levels; their labels are spread apart so that close levels stay readable
  if (yl) {
    const lines = (spec.hlines || []).filter((h) => isFinite(h.value)).sort((a, b) => a.value - b.value);
    const labelY = [];
    for (const h of lines) {
      const want = py(yl)(h.value) - 5;
      const prev = labelY.length ? labelY[labelY.length - 1] : Infinity;
      labelY.push(Math.min(want, prev - 16));
    }
    lines.forEach((h, i) => {
      const y = py(yl)(h.value);
      const dash = { blue: "none", yellow: "2 5", orange: "10 5", red: "none" }[h.level] || "4 4";
      el("line", { x1: M.l, x2: W - M.r, y1: y, y2: y, stroke: COLOURS[h.level].stroke, "stroke-width": h.level === "red" ? 3 : 2.5, "stroke-dasharray": dash, class: "chart-hline", "data-level": h.level }, svg);
      if (h.level === "red") el("line", { x1: M.l, x2: W - M.r, y1: y - 4, y2: y - 4, stroke: COLOURS.red.stroke, "stroke-width": 1.5 }, svg);
      const t = el("text", { x: M.l + 4, y: labelY[i], class: "chart-hlabel", fill: COLOURS[h.level].stroke }, svg);
      t.textContent = h.label || `${word(h.level, "zh")} ${h.value.toFixed(2)} m`;
    });
  }
  // series
  for (const s of spec.series) {
    const r = (s.axis || "left") === "left" ? yl : yr;
    if (!r) continue;
    const pts = s.points.filter(([t, v]) => t >= t0 && t <= t1 && isFinite(v));
    if (!pts.length) continue;
    let d = "";
    let prevT = null;
    for (const [t, v] of pts) {
      // a gap of more than 3x the usual spacing breaks the line (missing data is not interpolated)
      const gap = prevT != null && s.maxGapMs && t - prevT > s.maxGapMs;
      d += `${d && !gap ? "L" : "M"}${px(t).toFixed(1)},${py(r)(v).toFixed(1)}`;
      prevT = t;
    }
    if (s.marker) {
      // a forecast point (next high water): ringed dot, no line
      for (const [t, v] of pts) el("circle", { cx: px(t).toFixed(1), cy: py(r)(v).toFixed(1), r: 6, fill: s.stroke, stroke: "#0b1420", "stroke-width": 2, class: "chart-point chart-marker", "data-series": s.key || s.label }, svg);
      continue;
    }
    if (pts.length < 40) {
      // sparse data: mark every reading so a short series is still visible
      for (const [t, v] of pts) el("circle", { cx: px(t).toFixed(1), cy: py(r)(v).toFixed(1), r: 3.5, fill: s.stroke, class: "chart-point" }, svg);
    }
    el("path", { d, fill: "none", stroke: s.stroke, "stroke-width": s.width || 2.5, "stroke-dasharray": s.dash || "none", class: "chart-series", "data-series": s.key || s.label, "data-points": pts.length }, svg);
  }
  if (spec.now && spec.now >= t0 && spec.now <= t1) {
    const x = px(spec.now);
    el("line", { x1: x, x2: x, y1: M.t, y2: H - M.b, class: "chart-now" }, svg);
    // inside the plot, at the bottom: the top row belongs to the legend
    const t = el("text", { x: x + 4, y: H - M.b - 6, class: "chart-tick" }, svg);
    t.textContent = spec.nowLabel || "now";
  }
  // legend
  let lx = M.l + 8;
  for (const s of spec.series) {
    if (!s.label) continue;
    if (s.marker) el("circle", { cx: lx + 13, cy: 14, r: 6, fill: s.stroke, stroke: "#0b1420", "stroke-width": 2 }, svg);
    else el("line", { x1: lx, x2: lx + 26, y1: 14, y2: 14, stroke: s.stroke, "stroke-width": 3, "stroke-dasharray": s.dash || "none" }, svg);
    const t = el("text", { x: lx + 32, y: 19, class: "chart-legend" }, svg);
    t.textContent = s.label;
    lx += 40 + s.label.length * 9.5;
  }
  if (spec.empty) {
    const t = el("text", { x: W / 2, y: H / 2, class: "chart-empty", "text-anchor": "middle" }, svg);
    t.textContent = spec.empty;
  }
}
