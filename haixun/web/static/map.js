// SVG map of the Pinghu shoreline drawn from the geography FeatureCollection
// (docs/data-model.md). Equirectangular projection around the data's mean
// latitude: x = lon * cos(lat0), y = -lat, scaled to a 1000-unit-wide viewBox.
// No tiles, no library: every layer is an SVG element carrying
// data-layer / data-id / data-level attributes (the tests read them too).

import { addPatternDefs, fillFor, lineStyle, norm, svgEl as el, word, COLOURS, tag } from "./levels.js";

const LAYER_ORDER = [
  "land_boundary", "town", "village", "road", "seawall_segment", "shelter", "camera", "station",
];

function eachCoord(geom, fn) {
  const walk = (c) => {
    if (typeof c[0] === "number") fn(c);
    else for (const x of c) walk(x);
  };
  if (geom && geom.coordinates) walk(geom.coordinates);
}

export class ShoreMap {
  constructor(svg, fc, opts = {}) {
    this.svg = svg;
    this.fc = fc;
    this.prefix = opts.prefix || "pat";
    this.lang = opts.lang || "zh";
    this.mode = opts.mode || "screen";
    this.opts = opts;
    this.features = {}; // layer -> id -> feature
    this.nodes = {}; // "layer:id" -> <g>
    this.segmentLevels = {};
    for (const f of fc.features || []) {
      const p = f.properties || {};
      (this.features[p.layer] ||= {})[p.id] = f;
    }
    this._fit();
    this._draw();
  }

  // The view fits the layers in opts.fit (default: everything) and, when
  // opts.aspect (width / height) is given, grows the short side to match it
  // so the drawing fills its box. Features outside are clipped by the view.
  _fit() {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    let latSum = 0, n = 0;
    const fit = this.opts.fit ? new Set(this.opts.fit) : null;
    const feats = (this.fc.features || []).filter((f) => !fit || fit.has((f.properties || {}).layer));
    for (const f of feats) eachCoord(f.geometry, ([lon, lat]) => { latSum += lat; n++; });
    this.k = Math.cos(((n ? latSum / n : 30.6) * Math.PI) / 180);
    for (const f of feats) {
      eachCoord(f.geometry, ([lon, lat]) => {
        const x = lon * this.k, y = -lat;
        minX = Math.min(minX, x); maxX = Math.max(maxX, x);
        minY = Math.min(minY, y); maxY = Math.max(maxY, y);
      });
    }
    if (!isFinite(minX)) { minX = 0; maxX = 1; minY = 0; maxY = 1; }
    const pad = this.opts.pad ?? 0.04;
    let w = (maxX - minX) * (1 + 2 * pad), hgt = (maxY - minY) + (maxX - minX) * 2 * pad;
    let cx = (minX + maxX) / 2, cy = (minY + maxY) / 2;
    if (this.opts.aspect && isFinite(this.opts.aspect) && this.opts.aspect > 0) {
      if (w / hgt > this.opts.aspect) hgt = w / this.opts.aspect;
      else w = hgt * this.opts.aspect;
    }
    this.x0 = cx - w / 2; this.y0 = cy - hgt / 2;
    this.s = 1000 / w;
    this.W = 1000;
    this.H = Math.round(hgt * this.s);
    this.svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    this.fitAspect(this.opts.aspect);
  }

  // Widens the view (without redrawing) to the box's width / height so the
  // map fills it; opts.margin adds user units around the fitted layers.
  fitAspect(aspect) {
    const m = this.opts.margin || 0;
    let x = -m, y = -m, w = this.W + 2 * m, hh = this.H + 2 * m;
    if (aspect && isFinite(aspect) && aspect > 0) {
      if (w / hh < aspect) { const nw = hh * aspect; x -= (nw - w) / 2; w = nw; }
      else { const nh = w / aspect; y -= (nh - hh) / 2; hh = nh; }
    }
    this.svg.setAttribute("viewBox", `${x.toFixed(1)} ${y.toFixed(1)} ${w.toFixed(1)} ${hh.toFixed(1)}`);
  }

  // Keeps the view filling the element when it changes size.
  autoFit() {
    const ro = new ResizeObserver(() => {
      const r = this.svg.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) this.fitAspect(r.width / r.height);
    });
    ro.observe(this.svg);
    return ro;
  }

  project([lon, lat]) {
    return [(lon * this.k - this.x0) * this.s, (-lat - this.y0) * this.s];
  }

  unproject(x, y) {
    return [(x / this.s + this.x0) / this.k, -(y / this.s + this.y0)];
  }

  // Client (mouse) coordinates -> [lon, lat].
  clientToLonLat(clientX, clientY) {
    const pt = this.svg.createSVGPoint();
    pt.x = clientX; pt.y = clientY;
    const p = pt.matrixTransform(this.svg.getScreenCTM().inverse());
    return this.unproject(p.x, p.y);
  }

  _path(geom) {
    const ring = (coords, close) => coords.map((c, i) => {
      const [x, y] = this.project(c);
      return `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`;
    }).join("") + (close ? "Z" : "");
    switch (geom.type) {
      case "LineString": return ring(geom.coordinates, false);
      case "MultiLineString": return geom.coordinates.map((l) => ring(l, false)).join("");
      case "Polygon": return geom.coordinates.map((r) => ring(r, true)).join("");
      case "MultiPolygon": return geom.coordinates.map((p) => p.map((r) => ring(r, true)).join("")).join("");
      default: return "";
    }
  }

  _centroid(f) {
    let sx = 0, sy = 0, n = 0;
    const g = f.geometry;
    const coords = g.type === "Polygon" ? g.coordinates[0] : g.type === "MultiPolygon" ? g.coordinates[0][0] : null;
    if (coords) {
      for (const c of coords) { const [x, y] = this.project(c); sx += x; sy += y; n++; }
    } else eachCoord(g, (c) => { const [x, y] = this.project(c); sx += x; sy += y; n++; });
    return n ? [sx / n, sy / n] : [0, 0];
  }

  _name(p) {
    return this.lang === "en" ? p.name_en || p.name || p.id : p.name || p.name_en || p.id;
  }

  _draw() {
    const svg = this.svg;
    svg.innerHTML = "";
    addPatternDefs(svg, this.prefix);
    el("rect", { x: -5000, y: -5000, width: this.W + 10000, height: this.H + 10000, class: "sea" }, svg);
    this.layers = {};
    for (const name of LAYER_ORDER) this.layers[name] = el("g", { class: `layer layer-${name}` }, svg);
    this.labelLayer = el("g", { class: "layer layer-labels" }, svg);
    this.runLayer = el("g", { class: "layer layer-runs" }, svg);

    for (const f of Object.values(this.features.land_boundary || {})) {
      el("path", { d: this._path(f.geometry), class: "land" }, this.layers.land_boundary);
    }
    for (const kind of ["town", "village"]) {
      for (const f of Object.values(this.features[kind] || {})) {
        const p = f.properties;
        const g = el("g", { "data-layer": kind, "data-id": p.id, "data-level": "unknown", class: `area ${kind}` }, this.layers[kind]);
        el("path", { d: this._path(f.geometry), class: "area-fill" }, g);
        const [cx, cy] = this._centroid(f);
        const t = el("text", { x: cx, y: cy, class: `area-label ${kind}-label` }, this.labelLayer);
        t.textContent = this._name(p);
        t.dataset.for = `${kind}:${p.id}`;
        const q = el("text", { x: cx, y: cy + (kind === "town" ? 22 : 15), class: "area-unknown-mark" }, this.labelLayer);
        q.textContent = "?";
        q.dataset.for = `${kind}:${p.id}`;
        this.nodes[`${kind}:${p.id}`] = g;
        g.addEventListener("click", (ev) => this.onAreaClick && this.onAreaClick(kind, p.id, ev));
      }
    }
    for (const f of Object.values(this.features.road || {})) {
      const p = f.properties;
      const g = el("g", { "data-layer": "road", "data-id": p.id, class: "road" + (p.closed ? " closed" : "") }, this.layers.road);
      el("path", { d: this._path(f.geometry), class: "road-line" }, g);
      this.nodes[`road:${p.id}`] = g;
    }
    const segs = Object.values(this.features.seawall_segment || {}).sort((a, b) => String(a.properties.id).localeCompare(String(b.properties.id)));
    this.segmentOrder = segs.map((f) => f.properties.id);
    for (const f of segs) {
      const p = f.properties;
      const d = this._path(f.geometry);
      const g = el("g", { "data-layer": "seawall_segment", "data-id": p.id, "data-level": "unknown", class: "segment", tabindex: 0 }, this.layers.seawall_segment);
      el("path", { d, class: "seg-casing" }, g);
      el("path", { d, class: "seg-line" }, g);
      el("path", { d, class: "seg-inner" }, g); // the white core of red's double line
      el("path", { d, class: "seg-hit" }, g);
      const title = el("title", {}, g);
      title.textContent = `${p.id} ${this._name(p)}`;
      this.nodes[`seawall_segment:${p.id}`] = g;
      g.addEventListener("click", (ev) => this.onSegmentClick && this.onSegmentClick(p.id, ev));
      this._styleSegment(p.id, "unknown");
    }
    this._drawSegmentTicks(segs);
    for (const f of Object.values(this.features.shelter || {})) {
      const p = f.properties;
      const [x, y] = this.project(f.geometry.coordinates);
      const g = el("g", { "data-layer": "shelter", "data-id": p.id, class: "shelter" + (p.open === false ? " closed" : ""), transform: `translate(${x.toFixed(1)},${y.toFixed(1)})` }, this.layers.shelter);
      el("path", { d: "M-6,4 L0,-6 L6,4 Z", class: "shelter-icon" }, g);
      this.nodes[`shelter:${p.id}`] = g;
    }
    for (const f of Object.values(this.features.camera || {})) {
      const p = f.properties;
      const [x, y] = this.project(f.geometry.coordinates);
      const g = el("g", { "data-layer": "camera", "data-id": p.id, class: `camera ${p.kind || ""}`, transform: `translate(${x.toFixed(1)},${y.toFixed(1)})` }, this.layers.camera);
      el("rect", { x: -6, y: -5, width: 10, height: 10, rx: 2, class: "camera-body" }, g);
      el("path", { d: "M4,-3 L9,-6 L9,6 L4,3 Z", class: "camera-lens" }, g);
      const t = el("title", {}, g);
      t.textContent = `${p.id} ${this._name(p)}`;
      this.nodes[`camera:${p.id}`] = g;
    }
    const stations = Object.values(this.features.station || {}).sort((a, b) => a.geometry.coordinates[0] - b.geometry.coordinates[0]);
    stations.forEach((f, i) => {
      const p = f.properties;
      const [x, y] = this.project(f.geometry.coordinates);
      const g = el("g", { "data-layer": "station", "data-id": p.id, "data-stale": "true", class: "station", transform: `translate(${x.toFixed(1)},${y.toFixed(1)})`, tabindex: 0 }, this.layers.station);
      el("circle", { r: 8, class: "station-dot" }, g);
      if (this.mode === "screen") {
        // Value box on the sea side of the station's segment, alternately
        // near and far so that neighbouring boxes do not overlap.
        const seg = (this.features.seawall_segment || {})[p.segment_id];
        const o = (((seg && seg.properties.orientation_deg) ?? 160) * Math.PI) / 180;
        const d = i % 2 === 0 ? 70 : 118;
        const bx = Math.sin(o) * d, by = -Math.cos(o) * d;
        el("line", { x1: 0, y1: 0, x2: bx, y2: by, class: "station-leader" }, g);
        const box = el("g", { class: "station-box", transform: `translate(${(bx - 58).toFixed(1)},${(by - 20).toFixed(1)})` }, g);
        el("rect", { width: 116, height: 40, rx: 4, class: "station-box-bg" }, box);
        const t1 = el("text", { x: 6, y: 15, class: "station-id" }, box);
        t1.textContent = p.id;
        const t2 = el("text", { x: 6, y: 33, class: "station-val" }, box);
        t2.textContent = "?";
        const t3 = el("text", { x: 110, y: 15, class: "station-age" }, box);
        t3.textContent = "";
        // the dot above its leader line
        g.appendChild(g.querySelector(".station-dot"));
      }
      const title = el("title", {}, g);
      title.textContent = `${p.id} ${this._name(p)}`;
      this.nodes[`station:${p.id}`] = g;
      g.addEventListener("click", (ev) => this.onStationClick && this.onStationClick(p.id, ev));
    });
  }

  _drawSegmentTicks(segs) {
    // Small id labels on the land side of every 3rd segment keep the map readable.
    segs.forEach((f, i) => {
      const p = f.properties;
      if (this.mode !== "screen" || (i % 3 !== 0 && i !== segs.length - 1)) return;
      const c = f.geometry.coordinates;
      const [x, y] = this.project(c[Math.floor(c.length / 2)]);
      const o = ((p.orientation_deg ?? 160) * Math.PI) / 180;
      const t = el("text", { x: x - Math.sin(o) * 18, y: y + Math.cos(o) * 18 + 4, class: "seg-id" }, this.labelLayer);
      t.textContent = p.id;
    });
  }

  _styleSegment(id, level) {
    const g = this.nodes[`seawall_segment:${id}`];
    if (!g) return;
    const lv = norm(level);
    g.setAttribute("data-level", lv);
    const w = this.mode === "screen" ? 15 : 9;
    const st = lineStyle(lv, w);
    const line = g.querySelector(".seg-line");
    line.setAttribute("stroke", lv === "unknown" ? COLOURS.unknown.fill : COLOURS[lv].stroke);
    line.setAttribute("stroke-width", w);
    line.setAttribute("stroke-dasharray", st.dash);
    line.setAttribute("stroke-linecap", st.cap);
    const inner = g.querySelector(".seg-inner");
    inner.setAttribute("stroke-width", lv === "red" ? w * 0.3 : 0);
    g.querySelector(".seg-casing").setAttribute("stroke-width", w + 4);
  }

  setSegmentLevel(id, level) {
    this.segmentLevels[id] = norm(level);
    this._styleSegment(id, level);
  }

  // Label every run of neighbouring segments that share a warning (or
  // unknown) level with the level word, on the sea side.
  relabelRuns() {
    this.runLayer.innerHTML = "";
    const order = this.segmentOrder || [];
    let i = 0;
    while (i < order.length) {
      const lv = this.segmentLevels[order[i]] || "unknown";
      let j = i;
      while (j + 1 < order.length && (this.segmentLevels[order[j + 1]] || "unknown") === lv) j++;
      if (lv !== "none") this._runLabel(order.slice(i, j + 1), lv);
      i = j + 1;
    }
  }

  _runLabel(ids, lv) {
    const f = this.features.seawall_segment[ids[Math.floor(ids.length / 2)]];
    const c = f.geometry.coordinates;
    const [x, y] = this.project(c[Math.floor(c.length / 2)]);
    const o = ((f.properties.orientation_deg ?? 160) * Math.PI) / 180;
    const dist = this.mode === "screen" ? 40 : 26;
    const lx = x + Math.sin(o) * dist, ly = y - Math.cos(o) * dist;
    const g = el("g", { class: `run-label run-${lv}`, "data-level": lv, "data-ids": ids.join(","), transform: `translate(${lx.toFixed(1)},${ly.toFixed(1)})` }, this.runLayer);
    const text = lv === "unknown" ? `? ${word(lv, this.lang)}` : `${word(lv, "zh")} ${tag(lv, "en")}`;
    const span = ids.length > 1 ? `${ids[0]}–${ids[ids.length - 1]}` : ids[0];
    const fs = this.mode === "screen" ? 22 : 13;
    const wpx = Math.max(text.length, span.length) * fs * 0.62 + 14;
    el("rect", { x: -wpx / 2, y: -fs - 4, width: wpx, height: fs * 2 + 10, rx: 4, fill: fillFor(lv, this.prefix), class: "run-bg" }, g);
    const t = el("text", { x: 0, y: 0, class: "run-text", fill: COLOURS[lv].text }, g);
    t.textContent = text;
    const t2 = el("text", { x: 0, y: fs + 2, class: "run-span", fill: COLOURS[lv].text }, g);
    t2.textContent = span;
  }

  setAreaLevel(kind, id, level) {
    const g = this.nodes[`${kind}:${id}`];
    if (!g) return;
    const lv = norm(level);
    g.setAttribute("data-level", lv);
    g.querySelector(".area-fill").setAttribute("fill", fillFor(lv, this.prefix));
    for (const t of this.labelLayer.querySelectorAll(`[data-for="${kind}:${id}"].area-unknown-mark`)) {
      t.style.display = lv === "unknown" ? "" : "none";
    }
  }

  // info: {age_s, online, stale, latest: {quantity: {value, ts, qc}}}
  setStation(id, info, staleAfterS = 300) {
    const g = this.nodes[`station:${id}`];
    if (!g) return;
    const stale = !info || info.online === false || info.stale === true || !(info.age_s <= staleAfterS);
    g.setAttribute("data-stale", stale ? "true" : "false");
    g.querySelector(".station-dot").setAttribute("fill", stale ? fillFor("unknown", this.prefix) : "#0f7b6c");
    const val = g.querySelector(".station-val");
    if (val) val.textContent = stationSummary(info, stale);
    const age = g.querySelector(".station-age");
    if (age) age.textContent = info && info.age_s != null ? fmtAge(info.age_s) : "";
  }

  setMarker(lon, lat) {
    let m = this.svg.querySelector(".you-marker");
    if (!m) {
      m = el("g", { class: "you-marker" }, this.svg);
      el("circle", { r: 13, class: "you-halo" }, m);
      el("circle", { r: 6, class: "you-dot" }, m);
    }
    const [x, y] = this.project([lon, lat]);
    m.setAttribute("transform", `translate(${x.toFixed(1)},${y.toFixed(1)})`);
  }

  highlight(layer, id) {
    for (const n of this.svg.querySelectorAll(".selected")) n.classList.remove("selected");
    const g = this.nodes[`${layer}:${id}`];
    if (g) g.classList.add("selected");
  }
}

const SHORT = { tide_level: ["", "m"], wind_speed: ["", "m/s"], wave_height: ["Hs ", "m"], wind_gust: ["G ", "m/s"] };

export function stationSummary(info, stale) {
  if (!info || !info.latest) return "?";
  const parts = [];
  for (const q of ["tide_level", "wind_speed", "wave_height"]) {
    const r = info.latest[q];
    if (r && typeof r.value === "number") parts.push(`${SHORT[q][0]}${r.value.toFixed(q === "wind_speed" ? 0 : 2)}${SHORT[q][1]}`);
  }
  const s = parts.slice(0, 2).join(" ");
  return stale ? `? ${s}` : s || "–";
}

export function fmtAge(s) {
  if (s == null || !isFinite(s)) return "?";
  if (s < 90) return `${Math.round(s)}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}
