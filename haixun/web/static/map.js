// Shoreline map on Leaflet (docs/web.md): pan, zoom, scale bar, north arrow,
// attribution and a basemap. The offline default basemap is drawn from the
// geography the package ships (sea, served land, towns, villages, place
// names); an XYZ tile URL from GET /api/v1/web-config (HAIXUN_BASEMAP_URL,
// e.g. Tianditu or an OpenStreetMap server on the LAN) goes underneath.
//
// Every drawn subject keeps data-layer / data-id / data-level attributes
// (the tests read them), and segments and stations are focusable: Tab to
// reach them, Enter or Space to select.

import * as L from "/static/vendor/leaflet/leaflet-src.esm.js";
import { COLOURS, norm, word, tag, GRADES } from "./levels.js";

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

function setAttrs(node, attrs) {
  if (!node) return;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
}

function activateOnKey(node, fn) {
  node.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); fn(ev); }
  });
}

// Sea-side offset (pixels) of a label from a point on the wall: the segment's
// seaward bearing (orientation_deg, clockwise from north) times the distance.
function seaward(props, dist) {
  const o = (((props && props.orientation_deg) ?? 160) * Math.PI) / 180;
  return [Math.sin(o) * dist, -Math.cos(o) * dist];
}

const SEA_LABELS = [
  { at: [30.565, 121.16], zh: "杭州湾", en: "Hangzhou Bay" },
];

export class ShoreMap {
  // container: a <div>; fc: the geography FeatureCollection
  constructor(container, fc, { mode = "screen", lang = "zh", basemap = null, fit = ["seawall_segment", "station"] } = {}) {
    this.container = container;
    this.mode = mode;
    this.lang = lang;
    this.features = {};
    for (const f of fc.features || []) {
      const p = f.properties || {};
      (this.features[p.layer] ||= {})[p.id] = f;
    }
    this.nodes = {};
    this.layersById = {};
    this.segmentLevels = {};
    this.segmentFloors = {};
    this.runMarkers = [];
    this.stationMarkers = [];
    this.onSegmentClick = null;
    this.onStationClick = null;
    this.onMapClick = null;
    const map = L.map(container, {
      zoomSnap: 0.25, zoomDelta: 0.5, wheelPxPerZoomLevel: 120, attributionControl: true, keyboard: true,
      preferCanvas: false, minZoom: 9, maxZoom: 17,
    });
    this.map = map;
    map.attributionControl.setPrefix(false);
    map.attributionControl.addAttribution(
      basemap && basemap.url ? esc(basemap.attribution || basemap.url) : (lang === "en" ? "Schematic geography: haixun" : "示意地理数据：haixun"));
    map.attributionControl.addAttribution('<a href="https://leafletjs.com" title="Leaflet (BSD-2-Clause)">Leaflet</a>');
    L.control.scale({ metric: true, imperial: false, maxWidth: mode === "screen" ? 200 : 120 }).addTo(map);
    const North = L.Control.extend({
      options: { position: "topright" },
      onAdd: () => {
        const d = L.DomUtil.create("div", "north-arrow");
        d.setAttribute("aria-label", lang === "en" ? "North is up" : "上北");
        d.setAttribute("role", "img");
        d.innerHTML = '<svg viewBox="0 0 24 36" width="26" height="40" aria-hidden="true"><path d="M12 2 L20 26 L12 21 L4 26 Z" fill="currentColor"/></svg><span>N</span>';
        return d;
      },
    });
    new North().addTo(map);
    for (const [name, z] of [["areas", 300], ["roads", 350], ["segments", 420], ["labels", 560], ["points", 600], ["runs", 650]]) {
      map.createPane(name).style.zIndex = z;
    }
    map.getPane("labels").style.pointerEvents = "none";
    map.getPane("runs").style.pointerEvents = "none";
    this.renderer = L.svg({ padding: 0.3 });
    if (basemap && basemap.url) {
      L.tileLayer(basemap.url, { maxZoom: 18, attribution: "" }).addTo(map);
      container.classList.add("has-tiles");
    }
    // a view first: Leaflet adds layers to a map only once it has one
    const bounds = this._bounds(fit);
    if (bounds.isValid()) map.fitBounds(bounds, { padding: mode === "screen" ? [30, 30] : [12, 12] });
    else map.setView([30.62, 121.14], 11);
    this._draw();
    // Re-fit when the container changes size (layout settling, window resize) until the user moves the map.
    this.fitLayers = fit;
    this.autoFit = true;
    for (const ev of ["mousedown", "wheel", "touchstart", "keydown"]) container.addEventListener(ev, () => { this.autoFit = false; }, { passive: true });
    new ResizeObserver(() => {
      map.invalidateSize({ pan: false });
      if (this.autoFit) { const b = this._bounds(this.fitLayers); if (b.isValid()) map.fitBounds(b, { padding: mode === "screen" ? [30, 30] : [12, 12] }); }
    }).observe(container);
    map.on("click", (ev) => this.onMapClick && this.onMapClick(ev.latlng.lng, ev.latlng.lat, ev));
    map.on("zoomend", () => this.relabelRuns());
  }

  _bounds(layers) {
    const b = L.latLngBounds([]);
    for (const name of layers) {
      for (const f of Object.values(this.features[name] || {})) {
        const g = f.geometry;
        const walk = (c) => (typeof c[0] === "number" ? b.extend([c[1], c[0]]) : c.forEach(walk));
        walk(g.coordinates);
      }
    }
    return b;
  }

  fitAll() { const b = this._bounds(["seawall_segment", "station"]); if (b.isValid()) this.map.fitBounds(b, { padding: [30, 30] }); }
  invalidate() { this.map.invalidateSize(); }

  _name(p) {
    return this.lang === "en" ? p.name_en || p.name || p.id : p.name || p.name_en || p.id;
  }

  _label(latlng, html, cls) {
    return L.marker(latlng, {
      pane: "labels", interactive: false, keyboard: false,
      icon: L.divIcon({ className: `map-label ${cls}`, html, iconSize: null }),
    }).addTo(this.map);
  }

  _draw() {
    const map = this.map;
    const r = this.renderer;
    for (const f of Object.values(this.features.land_boundary || {})) {
      const lay = L.geoJSON(f, { pane: "areas", renderer: r, interactive: false, style: { className: "land", weight: 1.5 } }).addTo(map);
      lay.eachLayer((l) => setAttrs(l.getElement(), { "data-layer": "land_boundary" }));
    }
    for (const kind of ["town", "village"]) {
      for (const f of Object.values(this.features[kind] || {})) {
        const p = f.properties;
        const lay = L.geoJSON(f, { pane: "areas", renderer: r, interactive: this.mode !== "screen",
          style: { className: `area ${kind}`, weight: kind === "town" ? 2.2 : 0.8, fillOpacity: 1, dashArray: kind === "town" ? "8 4" : null } }).addTo(map);
        lay.eachLayer((l) => {
          setAttrs(l.getElement(), { "data-layer": kind, "data-id": p.id, "data-level": "unknown" });
          this.nodes[`${kind}:${p.id}`] = l.getElement();
        });
        if (kind === "town" || this.mode === "screen") {
          const c = lay.getBounds().getCenter();
          const m = this._label(c, `<span class="name">${esc(this._name(p))}</span><span class="q" data-for="${kind}:${p.id}">?</span>`, `${kind}-label`);
          this.nodes[`${kind}-label:${p.id}`] = m.getElement();
        }
      }
    }
    for (const s of SEA_LABELS) this._label(s.at, `<span>${esc(this.lang === "en" ? s.en : `${s.zh} ${s.en}`)}</span>`, "sea-label");
    for (const f of Object.values(this.features.road || {})) {
      const p = f.properties;
      const lay = L.geoJSON(f, { pane: "roads", renderer: r, interactive: false, style: { className: "road" + (p.closed ? " closed" : ""), weight: 2.5 } }).addTo(map);
      lay.eachLayer((l) => { setAttrs(l.getElement(), { "data-layer": "road", "data-id": p.id }); this.nodes[`road:${p.id}`] = l.getElement(); });
    }
    const segs = Object.values(this.features.seawall_segment || {}).sort((a, b) => String(a.properties.id).localeCompare(String(b.properties.id)));
    this.segmentOrder = segs.map((f) => f.properties.id);
    const w = this.mode === "screen" ? 13 : 8;
    this.segWidth = w;
    segs.forEach((f, i) => {
      const p = f.properties;
      const latlngs = f.geometry.coordinates.map(([x, y]) => [y, x]);
      const casing = L.polyline(latlngs, { pane: "segments", renderer: r, className: "seg-casing", weight: w + 5, color: "#0b0f14", interactive: false, lineCap: "butt" }).addTo(map);
      const line = L.polyline(latlngs, { pane: "segments", renderer: r, className: "seg-line", weight: w, color: COLOURS.unknown.fill, lineCap: "butt", bubblingMouseEvents: false }).addTo(map);
      const inner = L.polyline(latlngs, { pane: "segments", renderer: r, className: "seg-inner", weight: 0, color: "#ffffff", interactive: false, lineCap: "butt" }).addTo(map);
      const el = line.getElement();
      const label = `${p.id} ${this._name(p)}`;
      setAttrs(el, { "data-layer": "seawall_segment", "data-id": p.id, "data-level": "unknown", tabindex: 0, role: "button", "aria-label": label, focusable: "true" });
      line.bindTooltip(label, { sticky: true, className: "map-tip" });
      const pick = (ev) => { if (ev && ev.originalEvent) L.DomEvent.stopPropagation(ev.originalEvent); this.onSegmentClick && this.onSegmentClick(p.id, ev); };
      line.on("click", (ev) => { L.DomEvent.stopPropagation(ev); pick(ev); });
      activateOnKey(el, () => this.onSegmentClick && this.onSegmentClick(p.id));
      this.nodes[`seawall_segment:${p.id}`] = el;
      this.layersById[p.id] = { casing, line, inner, latlngs };
      if (this.mode === "screen" && (i % 3 === 0 || i === segs.length - 1)) {
        const mid = latlngs[Math.floor(latlngs.length / 2)];
        const [dx, dy] = seaward(p, -26);
        this._label(mid, `<span style="transform: translate(calc(-50% + ${dx.toFixed(0)}px), calc(-50% + ${dy.toFixed(0)}px))">${esc(p.id)}</span>`, "seg-id");
      }
      this._styleSegment(p.id);
    });
    for (const f of Object.values(this.features.shelter || {})) {
      const p = f.properties;
      const [x, y] = f.geometry.coordinates;
      const m = L.marker([y, x], { pane: "points", keyboard: false, title: this._name(p),
        icon: L.divIcon({ className: "shelter-icon" + (p.open === false ? " closed" : ""), html: '<svg viewBox="-7 -7 14 14" width="16" height="16" aria-hidden="true"><path d="M-6,4 L0,-6 L6,4 Z"/></svg>', iconSize: [16, 16] }) }).addTo(map);
      setAttrs(m.getElement(), { "data-layer": "shelter", "data-id": p.id });
      this.nodes[`shelter:${p.id}`] = m.getElement();
    }
    if (this.mode === "screen") {
      for (const f of Object.values(this.features.camera || {})) {
        const p = f.properties;
        const [x, y] = f.geometry.coordinates;
        const m = L.marker([y, x], { pane: "points", keyboard: false, title: `${p.id} ${this._name(p)}`,
          icon: L.divIcon({ className: "camera-icon", html: '<svg viewBox="-7 -6 17 12" width="18" height="13" aria-hidden="true"><rect x="-6" y="-5" width="10" height="10" rx="2"/><path d="M4,-3 L9,-6 L9,6 L4,3 Z"/></svg>', iconSize: [18, 13] }) }).addTo(map);
        setAttrs(m.getElement(), { "data-layer": "camera", "data-id": p.id });
      }
    }
    const stations = Object.values(this.features.station || {}).sort((a, b) => a.geometry.coordinates[0] - b.geometry.coordinates[0]);
    stations.forEach((f, i) => {
      const p = f.properties;
      const [x, y] = f.geometry.coordinates;
      const seg = (this.features.seawall_segment || {})[p.segment_id];
      const box = this.mode === "screen"
        ? `<svg class="leader" width="1" height="1" aria-hidden="true"><line x1="0" y1="0" x2="0" y2="0"/></svg>`
          + `<span class="station-box"><span class="station-id">${esc(p.id)}</span><span class="station-age"></span><span class="station-val">?</span></span>`
        : "";
      const m = L.marker([y, x], { pane: "points", keyboard: true, title: `${p.id} ${this._name(p)}`, riseOnHover: true,
        icon: L.divIcon({ className: "station", html: `<span class="station-dot"></span>${box}`, iconSize: [18, 18] }) }).addTo(map);
      const el = m.getElement();
      setAttrs(el, { "data-layer": "station", "data-id": p.id, "data-stale": "true", role: "button", "aria-label": `${p.id} ${this._name(p)}` });
      m.on("click", (ev) => { L.DomEvent.stopPropagation(ev); this.onStationClick && this.onStationClick(p.id, ev); });
      this.nodes[`station:${p.id}`] = el;
      this.stationMarkers.push({ id: p.id, marker: m, seg: seg && seg.properties });
    });
  }

  // Value boxes of the stations on the sea side, each pushed further out
  // until it overlaps no box or run label placed before it.
  layoutBoxes() {
    if (this.mode !== "screen") return;
    const placed = [];
    const cont = this.container.getBoundingClientRect();
    for (const m of this.runMarkers) {
      const e = m.getElement() && m.getElement().firstElementChild;
      if (e) placed.push(e.getBoundingClientRect());
    }
    const hit = (r) => placed.some((q) => r.left < q.right + 4 && r.right > q.left - 4 && r.top < q.bottom + 4 && r.bottom > q.top - 4);
    for (const { marker, seg } of this.stationMarkers) {
      const el = marker.getElement();
      const box = el && el.querySelector(".station-box");
      if (!box) continue;
      const pt = this.map.latLngToContainerPoint(marker.getLatLng());
      const bw = box.offsetWidth, bh = box.offsetHeight;
      let best = null;
      for (const d of [46, 80, 114, 148, 182, 216, 250]) {
        const [dx, dy] = seaward(seg, d);
        const left = cont.left + pt.x + dx - bw / 2, top = cont.top + pt.y + dy - bh / 2;
        const r = { left, top, right: left + bw, bottom: top + bh };
        best = { dx, dy, r };
        if (!hit(r)) break;
      }
      placed.push(best.r);
      box.style.transform = `translate(${(best.dx - bw / 2).toFixed(0)}px, ${(best.dy - bh / 2).toFixed(0)}px)`;
      const line = el.querySelector(".leader line");
      if (line) { line.setAttribute("x2", best.dx.toFixed(0)); line.setAttribute("y2", best.dy.toFixed(0)); }
    }
  }

  _styleSegment(id) {
    const L_ = this.layersById[id];
    if (!L_) return;
    const lv = this.segmentLevels[id] || "unknown";
    const floor = this.segmentFloors[id];
    const w = this.segWidth;
    const dash = { yellow: `${w * 0.2} ${w * 0.8}`, orange: `${w * 2.2} ${w * 0.9}`, unknown: `${w * 0.9} ${w * 0.6}` }[lv] || null;
    L_.line.setStyle({ color: lv === "unknown" ? COLOURS.unknown.fill : COLOURS[lv].stroke, dashArray: dash, lineCap: lv === "yellow" ? "round" : "butt" });
    // unknown with a floor: the casing carries the floor colour (the level is at least that)
    L_.casing.setStyle({ color: lv === "unknown" && floor && floor !== "none" ? COLOURS[floor].stroke : "#0b0f14", weight: w + (lv === "unknown" && floor ? 9 : 5) });
    L_.inner.setStyle({ weight: lv === "red" ? w * 0.3 : 0 });
    const el = L_.line.getElement();
    setAttrs(el, { "data-level": lv, "data-floor": floor || "" });
  }

  setSegmentLevel(id, level, floor = null) {
    this.segmentLevels[id] = norm(level);
    this.segmentFloors[id] = floor ? norm(floor) : null;
    this._styleSegment(id);
  }

  // Label every run of neighbouring segments that share a warning (or
  // unknown) level with the level word, on the sea side.
  relabelRuns() {
    for (const m of this.runMarkers) m.remove();
    this.runMarkers = [];
    const order = this.segmentOrder || [];
    const key = (id) => `${this.segmentLevels[id] || "unknown"}|${this.segmentFloors[id] || ""}`;
    let i = 0;
    while (i < order.length) {
      let j = i;
      while (j + 1 < order.length && key(order[j + 1]) === key(order[i])) j++;
      const lv = this.segmentLevels[order[i]] || "unknown";
      if (lv !== "none") this._runLabel(order.slice(i, j + 1), lv, this.segmentFloors[order[i]]);
      i = j + 1;
    }
    this._placeRuns();
    this.layoutBoxes();
  }

  _runLabel(ids, lv, floor) {
    const f = this.features.seawall_segment[ids[Math.floor(ids.length / 2)]];
    const c = f.geometry.coordinates;
    const mid = c[Math.floor(c.length / 2)];
    let text;
    if (lv === "unknown") {
      text = floor && floor !== "none" ? `? ≥${this.lang === "en" ? word(floor, "en") : word(floor, "zh")}` : `? ${word(lv, this.lang)}`;
    } else text = this.lang === "en" ? `${word(lv, "en").toUpperCase()} ${GRADES[lv] || ""}` : `${word(lv, "zh")} ${tag(lv, "en")}`;
    const span = ids.length > 1 ? `${ids[0]}–${ids[ids.length - 1]}` : ids[0];
    const m = L.marker([mid[1], mid[0]], {
      pane: "runs", interactive: false, keyboard: false,
      icon: L.divIcon({ className: "run-anchor", iconSize: null,
        html: `<span class="run-label lv" data-level="${lv}" data-ids="${esc(ids.join(","))}"><b class="run-text">${esc(text)}</b><span class="run-span">${esc(span)}</span></span>` }),
    }).addTo(this.map);
    m._props = f.properties;
    this.runMarkers.push(m);
  }

  // Run labels on the sea side, each pushed further out until it overlaps no
  // label placed before it (neighbouring short runs in the bends of the wall).
  _placeRuns() {
    const placed = [];
    const base = this.mode === "screen" ? 44 : 26;
    const hit = (r) => placed.some((q) => r.left < q.right + 3 && r.right > q.left - 3 && r.top < q.bottom + 3 && r.bottom > q.top - 3);
    for (const m of this.runMarkers) {
      const el = m.getElement() && m.getElement().firstElementChild;
      if (!el) continue;
      const pt = this.map.latLngToContainerPoint(m.getLatLng());
      const w = el.offsetWidth, h = el.offsetHeight;
      let best = null;
      for (let k = 0; k < 6; k++) {
        const [dx, dy] = seaward(m._props, base + k * (h + 6));
        const r = { left: pt.x + dx - w / 2, top: pt.y + dy - h / 2, right: pt.x + dx + w / 2, bottom: pt.y + dy + h / 2 };
        best = { dx, dy, r };
        if (!hit(r)) break;
      }
      placed.push(best.r);
      el.style.transform = `translate(calc(-50% + ${best.dx.toFixed(0)}px), calc(-50% + ${best.dy.toFixed(0)}px))`;
    }
  }

  setAreaLevel(kind, id, level) {
    const lv = norm(level);
    const el = this.nodes[`${kind}:${id}`];
    if (el) el.setAttribute("data-level", lv);
    const lab = this.nodes[`${kind}-label:${id}`];
    if (lab) lab.setAttribute("data-level", lv);
  }

  // info: {age_s, online, stale, latest: {quantity: {value, ts, qc}}}
  setStation(id, info, staleAfterS = 300) {
    const g = this.nodes[`station:${id}`];
    if (!g) return;
    const stale = !info || info.online === false || info.stale === true || !(info.age_s <= staleAfterS);
    g.setAttribute("data-stale", stale ? "true" : "false");
    const val = g.querySelector(".station-val");
    const txt = stationSummary(info, stale);
    if (val && val.textContent !== txt) val.textContent = txt;
    const age = g.querySelector(".station-age");
    const a = info && info.age_s != null ? fmtAge(info.age_s) : "";
    if (age && age.textContent !== a) age.textContent = a;
  }

  setMarker(lon, lat) {
    if (!this.you) {
      this.you = L.marker([lat, lon], { pane: "points", keyboard: false, interactive: false,
        icon: L.divIcon({ className: "you-marker", html: '<span class="you-halo"></span><span class="you-dot"></span>', iconSize: [26, 26] }) }).addTo(this.map);
    } else this.you.setLatLng([lat, lon]);
  }

  panTo(lon, lat) { this.map.panTo([lat, lon]); }

  highlight(layer, id) {
    for (const n of this.container.querySelectorAll(".selected")) n.classList.remove("selected");
    const g = this.nodes[`${layer}:${id}`];
    if (g) g.classList.add("selected");
    if (layer === "seawall_segment" && this.layersById[id]) this.layersById[id].casing.getElement().classList.add("selected");
  }
}

const SHORT = { tide_level: ["", "m", 2], wind_speed: ["", "m/s", 0], wave_height: ["Hs ", "m", 1] };

export function stationSummary(info, stale) {
  if (!info || !info.latest) return "?";
  const parts = [];
  for (const q of ["tide_level", "wind_speed", "wave_height"]) {
    const r = info.latest[q];
    if (r && typeof r.value === "number") parts.push(`${SHORT[q][0]}${r.value.toFixed(SHORT[q][2])} ${SHORT[q][1]}`);
  }
  const s = parts.slice(0, 2).join(" ");
  return stale ? `? ${s}` : s || "–";
}

export function fmtAge(s) {
  if (s == null || !isFinite(s)) return "?";
  s = Math.max(0, s);
  if (s < 90) return `${Math.round(s)}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}
