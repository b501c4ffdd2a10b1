// Time-series charts on uPlot (docs/web.md): dated time axis in Beijing time,
// drag to zoom (double-click resets), the warning levels as coloured bands
// with labels kept apart, a "now" line and a legend with values under the
// cursor. Each legend row carries data-series / data-points (tests read them).

import uPlot from "/static/vendor/uplot/uPlot.esm.js";
import { COLOURS, word, GRADES } from "./levels.js";

const FONT = "'Haixun Noto Sans SC', 'DejaVu Sans', sans-serif";
const BAND_ALPHA = 0.16;

function hexA(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

// Label positions (px) pushed apart by at least `gap` within [lo, hi], keeping order.
export function spreadLabels(ys, gap, lo, hi) {
  const order = ys.map((y, i) => [y, i]).sort((a, b) => a[0] - b[0]); // top first
  const out = new Array(ys.length);
  let prev = -Infinity;
  for (const [y, i] of order) { out[i] = Math.max(y, prev + gap, lo); prev = out[i]; }
  let next = Infinity;
  for (let k = order.length - 1; k >= 0; k--) { const i = order[k][1]; out[i] = Math.min(out[i], next - gap, hi); next = out[i]; }
  return out;
}

export class TimeChart {
  // el: a <div>; opts: {yUnit, y2Unit, height, zeroBased: {left, right}}
  constructor(el, { yUnit = "", y2Unit = null, height = 260, zeroBased = {}, lang = "zh" } = {}) {
    this.el = el;
    this.yUnit = yUnit;
    this.y2Unit = y2Unit;
    this.height = height;
    this.zeroBased = zeroBased;
    this.lang = lang;
    this.u = null;
    this.keys = "";
    this.zoomed = false;
    this.model = null;
    this.empty = document.createElement("div");
    this.empty.className = "chart-empty";
    this.empty.hidden = true;
    el.append(this.empty);
    new ResizeObserver(() => { if (this.u) this.u.setSize(this._size()); }).observe(el.parentElement || el);
  }

  _size() {
    const w = (this.el.parentElement || this.el).clientWidth;
    return { width: Math.max(200, w), height: this.height };
  }

  // model: {series: [{key, label, points: [[ms, v]], stroke, dash, width, axis, marker}],
  //         bands: [{value, level}] (warning levels), lines: [{value, label, stroke, axis}], t0, t1, now, empty}
  update(model) {
    this.model = model;
    const series = model.series.filter((s) => s.points.length);
    this.empty.hidden = !model.empty;
    this.empty.textContent = model.empty || "";
    const keys = series.map((s) => s.key).join(",") + `|${!!this.y2Unit}`;
    const xs = new Set();
    for (const s of series) for (const [t] of s.points) xs.add(Math.round(t / 1000));
    const x = [...xs].sort((a, b) => a - b);
    const pos = new Map(x.map((t, i) => [t, i]));
    const data = [x];
    for (const s of series) {
      const col = new Array(x.length).fill(null);
      for (const [t, v] of s.points) col[pos.get(Math.round(t / 1000))] = v;
      data.push(col);
    }
    if (!this.u || keys !== this.keys) {
      if (this.u) this.u.destroy();
      this.keys = keys;
      this.zoomed = false;
      this.u = new uPlot(this._opts(series), data, this.el);
    } else {
      this.u.setData(data, !this.zoomed);
    }
    if (!this.zoomed) this.u.setScale("x", { min: model.t0 / 1000, max: model.t1 / 1000 });
    const rows = this.u.root.querySelectorAll(".u-legend .u-series");
    series.forEach((s, i) => {
      const row = rows[i + 1];
      if (row) { row.dataset.series = s.key; row.dataset.points = String(s.points.length); }
    });
    this.el.dataset.series = series.map((s) => s.key).join(" ");
  }

  _opts(series) {
    const self = this;
    const axisStyle = { stroke: "#c9d3dc", font: `15px ${FONT}`, labelFont: `15px ${FONT}`, grid: { stroke: "#253649", width: 1 }, ticks: { stroke: "#3a4b5e" } };
    const scales = { x: { time: true }, y: { auto: true, range: (u, lo, hi) => self._range("y", lo, hi) } };
    const axes = [
      { ...axisStyle, space: 80, values: (u, splits) => {
        let prevDay = null;
        return splits.map((t) => {
          const d = uPlot.tzDate(new Date(t * 1e3), "Asia/Shanghai");
          const day = `${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
          const hm = `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
          const out = day !== prevDay ? `${hm}\n${day}` : hm;
          prevDay = day;
          return out;
        });
      } },
      { ...axisStyle, scale: "y", label: this.yUnit, size: 60, labelSize: 20 },
    ];
    if (this.y2Unit) {
      scales.y2 = { auto: true, range: (u, lo, hi) => self._range("y2", lo, hi) };
      axes.push({ ...axisStyle, scale: "y2", side: 1, label: this.y2Unit, size: 56, labelSize: 20, grid: { show: false } });
    }
    return {
      ...this._size(),
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Asia/Shanghai"),
      scales,
      axes,
      cursor: { drag: { x: true, y: false, setScale: true }, points: { size: 8 } },
      legend: { live: true },
      series: [
        { value: "{YYYY}-{MM}-{DD} {HH}:{mm}" },
        ...series.map((s) => ({
          label: s.label, stroke: s.stroke, width: s.width ?? 2, dash: s.dash, scale: s.axis === "right" ? "y2" : "y",
          spanGaps: false, points: s.marker ? { show: true, size: 14, fill: s.stroke, stroke: "#ffffff", width: 2 } : { show: false },
          paths: s.marker ? () => null : undefined,
          value: (u, v) => (v == null ? "–" : `${v.toFixed(2)}`),
        })),
      ],
      hooks: {
        drawClear: [(u) => self._drawBands(u)],
        draw: [(u) => self._drawOverlay(u)],
        setSelect: [() => { self.zoomed = true; }],
        ready: [(u) => u.over.addEventListener("dblclick", () => { self.zoomed = false; if (self.model) u.setScale("x", { min: self.model.t0 / 1000, max: self.model.t1 / 1000 }); })],
      },
    };
  }

  _range(scale, lo, hi) {
    const m = this.model || {};
    const vals = [];
    if (lo != null) vals.push(lo, hi);
    for (const b of m.bands || []) if ((b.axis || "y") === scale) vals.push(b.value);
    for (const l of m.lines || []) if ((l.axis || "y") === scale) vals.push(l.value);
    const zero = scale === "y" ? this.zeroBased.left : this.zeroBased.right;
    if (zero) vals.push(0);
    if (!vals.length) return [0, 1];
    let a = Math.min(...vals), b = Math.max(...vals);
    const pad = Math.max(0.1, (b - a) * 0.08);
    return [zero ? Math.min(0, a) : a - pad, b + pad];
  }

  _drawBands(u) {
    const m = this.model;
    if (!m || !m.bands || !m.bands.length) return;
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    const bands = [...m.bands].sort((a, b) => a.value - b.value);
    ctx.save();
    bands.forEach((b, i) => {
      const y0 = u.valToPos(b.value, "y", true);
      const y1 = i + 1 < bands.length ? u.valToPos(bands[i + 1].value, "y", true) : top;
      const yy0 = Math.min(top + height, Math.max(top, y0)), yy1 = Math.min(top + height, Math.max(top, y1));
      ctx.fillStyle = hexA(COLOURS[b.level].fill, BAND_ALPHA);
      ctx.fillRect(left, yy1, width, yy0 - yy1);
    });
    ctx.restore();
  }

  _drawOverlay(u) {
    const m = this.model;
    if (!m) return;
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    const px = devicePixelRatio || 1;
    ctx.save();
    // warning-level lines with labels at the right edge, kept apart
    const lines = [
      ...(m.bands || []).map((b) => ({ value: b.value, stroke: COLOURS[b.level].stroke, label: `${this.lang === "en" ? word(b.level, "en") : word(b.level, "zh")} ${GRADES[b.level]} ${b.value.toFixed(2)}`, axis: "y", dash: [] })),
      ...(m.lines || []).map((l) => ({ ...l, dash: l.dash || [8, 5] })),
    ];
    const ys = lines.map((l) => u.valToPos(l.value, l.axis || "y", true));
    const labelled = lines.map((l, i) => [ys[i], i]).filter(([, i]) => lines[i].label);
    const spreadL = spreadLabels(labelled.map(([y]) => y), 18 * px, top + 10 * px, top + height - 4 * px);
    const spread = {};
    labelled.forEach(([, i], k) => { spread[i] = spreadL[k]; });
    ctx.font = `bold ${14 * px}px ${FONT}`;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    lines.forEach((l, i) => {
      const y = ys[i];
      if (y < top || y > top + height) return;
      if (!l.label) {
        ctx.strokeStyle = l.stroke; ctx.lineWidth = 1.2 * px; ctx.setLineDash(l.dash.map((d) => d * px));
        ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + width, y); ctx.stroke(); ctx.setLineDash([]);
        return;
      }
      ctx.strokeStyle = l.stroke;
      ctx.lineWidth = 2 * px;
      ctx.setLineDash(l.dash.map((d) => d * px));
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + width, y); ctx.stroke();
      ctx.setLineDash([]);
      const tw = ctx.measureText(l.label).width;
      ctx.fillStyle = "rgba(11, 21, 32, 0.85)";
      ctx.fillRect(left + width - tw - 10 * px, spread[i] - 9 * px, tw + 8 * px, 18 * px);
      ctx.fillStyle = l.stroke === COLOURS.blue.stroke ? "#8fc0ff" : l.stroke;
      ctx.fillText(l.label, left + width - 6 * px, spread[i]);
    });
    if (m.now) {
      const x = u.valToPos(m.now / 1000, "x", true);
      if (x >= left && x <= left + width) {
        ctx.fillStyle = "rgba(255, 255, 255, 0.05)";
        ctx.fillRect(x, top, left + width - x, height);
        ctx.strokeStyle = "#ffffff"; ctx.lineWidth = 1.5 * px; ctx.setLineDash([4 * px, 4 * px]);
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
        ctx.setLineDash([]);
        ctx.textAlign = "left"; ctx.fillStyle = "#ffffff"; ctx.font = `${13 * px}px ${FONT}`;
        ctx.fillText(this.lang === "en" ? "now" : "现在 now", x + 4 * px, top + height - 10 * px);
      }
    }
    ctx.restore();
  }
}
