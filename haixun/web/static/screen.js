// Duty-room screen (/screen): live map, the selected (by default the worst)
// segment with its reasons, live charts of its stations, alarms grouped per
// subject with bulk acknowledgement, and tiered counts. docs/web.md.
//
// Rendering is batched: live messages only mark what changed; one render
// runs at most every RENDER_MIN_MS, and the alarm list is updated in place
// (rows are kept, never rebuilt), so a click on a button always hits a node
// that is still in the page.

import { HttpError, currentUser, fmtDuration, fmtTime, getJSON, onSystemClock, serverClock, setClockSpec, setLogin, token } from "./api.js";
import { TimeChart } from "./chart.js";
import { loadGeography, byLayer } from "./geo.js";
import { LiveClient } from "./live.js";
import { COLOURS, GRADES, LEVELS, addPatternDefs, norm, rank, severity, word } from "./levels.js";
import { ShoreMap, fmtAge } from "./map.js";
import { fmtValue, hazardName } from "./names.js";
import { $, h } from "./dom.js";

const STALE_AFTER_S = 300; // a station reading older than this is shown as stale (grey hatch + "?")
const SILENT_AFTER_MS = 40000; // no message (pings come every 15 s) for this long = connection suspect
const RENDER_MIN_MS = 500; // at most 2 renders a second, whatever the update rate
const CHART_EVERY_MS = 15000; // live chart refresh while new readings arrive
const ORDER = ["red", "orange", "yellow", "blue", "unknown", "none"];

const setText = (el, t) => { if (el && el.textContent !== t) el.textContent = t; };
const setAttr = (el, k, v) => { if (el && el.getAttribute(k) !== v) el.setAttribute(k, v); };
const lvText = (level) => {
  const lv = norm(level);
  if (lv === "unknown") return "? 不明";
  if (lv === "none") return "无 None";
  return `${word(lv, "zh")} ${GRADES[lv]}`;
};
// "? ≥ 蓝色" for an unknown with a floor (at least that colour), else the level word
const floorText = (level, floor) => {
  const lv = norm(level), f = floor ? norm(floor) : "none";
  if (lv === "unknown" && f !== "none" && f !== "unknown") return `? ≥${word(f, "zh")}`;
  return lv === "unknown" ? "? 不明" : word(lv, "zh");
};
const lvSpan = (level, text) => h("span", { class: "lv", "data-level": norm(level), text: text ?? lvText(level) });

const app = {
  geo: null, layers: {}, map: null, live: null, state: null, stateAtMs: null,
  alarms: new Map(), selected: null, follow: true, names: { town: {}, village: {}, town_en: {}, village_en: {} },
  dirty: new Set(), renderAt: 0, renderTimer: null, renders: 0, chartAt: 0, chartKey: null, charts: {},
  config: { chart_lines: {} }, acking: false,
};
window.haixunScreen = app; // for debugging from the console and for tests

function nameOf(kind, id) {
  if (kind === "city") return app.names.city || "平湖市";
  const f = app.layers[kind] && app.layers[kind][id];
  if (f) return f.properties.name || id;
  return (app.names[kind] && app.names[kind][id]) || id;
}

// ---------- batched rendering ----------
function invalidate(...parts) {
  for (const p of parts) app.dirty.add(p);
  if (app.renderTimer) return;
  const wait = Math.max(0, app.renderAt + RENDER_MIN_MS - Date.now());
  app.renderTimer = setTimeout(() => requestAnimationFrame(render), wait);
}

function render() {
  app.renderTimer = null;
  app.renderAt = Date.now();
  app.renders++;
  document.body.dataset.renders = String(app.renders);
  const d = app.dirty;
  app.dirty = new Set();
  if (app.state && d.has("state")) renderState();
  if (d.has("alarms")) renderAlarms();
}

// ---------- live state ----------
function onState(state, info) {
  app.state = state;
  app.stateAtMs = state.at ? Date.parse(state.at) : serverClock.nowMs();
  app.lastMessageMs = Date.now();
  if (info.latency) app.latency = { ...info.latency, pushed_at: info.pushed_at, receivedAt: info.receivedAt, raw: info.body.latency };
  document.body.dataset.seq = state.seq ?? "";
  invalidate("state");
  if (info.kind === "delta" && info.body && (info.body.segments || info.body.areas)) scheduleAlarmRefresh();
}

function segState(id) {
  return (app.state && app.state.segments[id]) || { level: "unknown" };
}

function ttSeconds(s) {
  const t = s.time_to_threshold;
  return t && t.seconds != null && rank(t.level) > rank(s.level) ? t.seconds : Infinity;
}

function worstSegment() {
  const ids = app.map ? app.map.segmentOrder : [];
  let best = null;
  for (const id of ids) {
    const s = segState(id);
    if (!best) { best = id; continue; }
    const b = segState(best);
    const cmp = severity(s.level, s.floor) - severity(b.level, b.floor) || ttSeconds(b) - ttSeconds(s);
    if (cmp > 0) best = id;
  }
  return best;
}

function renderState() {
  const state = app.state;
  for (const id of app.map.segmentOrder) {
    const s = state.segments[id];
    app.map.setSegmentLevel(id, s ? s.level : "unknown", s && s.floor);
  }
  app.map.relabelRuns();
  for (const [id, a] of Object.entries(state.areas.towns || {})) app.map.setAreaLevel("town", id, a && a.level);
  for (const [id, a] of Object.entries(state.areas.villages || {})) app.map.setAreaLevel("village", id, a && a.level);
  renderStations();
  renderCity();
  renderTiers();
  if (app.follow) {
    const w = worstSegment();
    if (w && w !== app.selected) selectSegment(w, { auto: true });
  }
  renderSegment();
  setText($("last-update"), fmtTime(state.at || new Date(serverClock.nowMs()).toISOString(), { date: true }));
  if (app.latency) renderLatency(app.latency);
  maybeRefreshCharts();
}

// Latency on the wall clock (docs/architecture.md): ingest receipt -> websocket
// push, both stamped by the servers; never negative. The sensor's own time is
// data time (a replay's clock) and is not compared with wall times.
function renderLatency(l) {
  const el = $("latency");
  const raw = l.raw || {};
  const rec = Date.parse(raw.received_at || "");
  const pushed = Date.parse(l.pushed_at || "");
  const dec = Date.parse(raw.decided_at || "");
  if (!isFinite(rec) || !isFinite(pushed)) { setText(el, "–"); return; }
  const e2e = Math.max(0, (pushed - rec) / 1000);
  const decided = isFinite(dec) ? Math.max(0, (dec - rec) / 1000) : null;
  const screen = l.receivedAt ? Math.max(0, (l.receivedAt - pushed) / 1000) : null;
  setText(el, `${e2e.toFixed(1)} s`);
  el.title = `received → decided ${decided != null ? decided.toFixed(2) : "?"} s, → pushed ${e2e.toFixed(2)} s`
    + (screen != null ? `, push → this screen ${screen.toFixed(2)} s` : "") + " (wall clock)";
  el.dataset.pushedS = String(e2e);
  el.dataset.decidedS = decided != null ? String(decided) : "";
}

// Data ages against the server's clock (simulated time during a replay), not the browser's.
function ageNow(ageS) {
  if (ageS == null) return null;
  return ageS + (app.stateAtMs ? Math.max(0, (serverClock.nowMs() - app.stateAtMs) / 1000) : 0);
}

// The engine's staleness limit for the station's quantities (the shortest, so a stale tide
// is never drawn fresh; a wave buoy alone gets 30 min), riskcode.toml; STALE_AFTER_S if unknown.
function staleAfter(id) {
  const lim = app.config.staleness_s || {};
  const f = app.layers.station && app.layers.station[id];
  const qs = (f && f.properties.quantities) || [];
  const vals = qs.map((q) => lim[q]).filter((v) => typeof v === "number");
  return vals.length ? Math.min(...vals) : STALE_AFTER_S;
}

function renderStations() {
  if (!app.state) return;
  const ids = new Set([...Object.keys(app.layers.station || {}), ...Object.keys(app.state.stations)]);
  for (const id of ids) {
    const st = app.state.stations[id];
    app.map.setStation(id, st ? { ...st, age_s: ageNow(st.age_s) } : null, staleAfter(id));
  }
}

function renderCity() {
  const c = app.state.areas.city;
  const lv = norm(c ? c.level : "unknown");
  const el = $("city-level");
  setAttr(el, "data-level", lv);
  const f = c && c.floor && !["none", "unknown"].includes(norm(c.floor)) ? norm(c.floor) : "";
  setAttr(el, "data-floor", lv === "unknown" ? f : "");
  setText(el.querySelector(".lb-word"), lv === "unknown" && f ? `? 至少${word(f, "zh")} ≥${word(f, "en").toUpperCase()}` : lv === "unknown" ? "? 数据不明" : lv === "none" ? "无预警 None" : `${word(lv, "zh")}预警 ${GRADES[lv]} ${word(lv, "en").toUpperCase()}`);
}

function countBy(obj) {
  const c = Object.fromEntries(LEVELS.map((l) => [l, 0]));
  for (const v of Object.values(obj || {})) if (v) c[norm(v.level)]++;
  return c;
}

function renderTiers() {
  const t = $("tiers");
  const rows = [];
  const segs = {};
  for (const id of app.map.segmentOrder) segs[id] = segState(id);
  rows.push(["海塘 Segments", countBy(segs), null, "seg"]);
  rows.push(["镇街 Towns", countBy(app.state.areas.towns), null, "town"]);
  rows.push(["村社 Villages", countBy(app.state.areas.villages), null, "village"]);
  for (const [id, a] of Object.entries(app.state.areas.towns || {}).sort()) if (a) rows.push([`· ${nameOf("town", id)}`, a.counts || {}, a.level, `town:${id}`, a.floor]);
  const key = JSON.stringify(rows);
  if (t.dataset.key === key) return;
  t.dataset.key = key;
  t.replaceChildren();
  t.append(h("thead", {}, h("tr", {}, h("th", { text: "分级 Tiers" }), ...ORDER.map((l) => h("th", { scope: "col" }, lvSpan(l, l === "unknown" ? "?" : l === "none" ? "无" : word(l, "zh")))))));
  const tb = h("tbody");
  for (const [label, counts, level, k, floor] of rows) {
    const tr = h("tr", { "data-tier": label, class: level ? "sub" : "" });
    const th = h("th", { scope: "row", text: label });
    if (level) th.append(" ", lvSpan(level, floorText(level, floor)));
    tr.append(th);
    for (const l of ORDER) {
      const n = counts[l] || 0;
      tr.append(h("td", { class: n ? "" : "zero", "data-level": l, text: String(n) }));
    }
    if (k.startsWith("town:")) tr.dataset.town = k.slice(5);
    tb.append(tr);
  }
  t.append(tb);
}

// ---------- the selected segment ----------
function selectSegment(id, { auto = false } = {}) {
  if (!id) return;
  if (!auto) { app.follow = false; $("follow-worst").setAttribute("aria-pressed", "false"); }
  if (app.selected === id) return;
  app.selected = id;
  app.map.highlight("seawall_segment", id);
  app.chartKey = null;
  renderSegment();
  buildPicker();
  refreshCharts();
}

function sinceText(s) {
  if (!s.since) return "";
  const ago = Math.max(0, (serverClock.nowMs() - Date.parse(s.since)) / 1000);
  return `自 since ${fmtTime(s.since, { seconds: false, date: true })} (${fmtDuration(ago)})`;
}

function renderSegment() {
  const id = app.selected;
  if (!id || !app.state) return;
  const f = app.layers.seawall_segment[id];
  const p = f ? f.properties : {};
  const s = segState(id);
  const lv = norm(s.level);
  $("seg-panel").dataset.segment = id;
  $("seg-panel").dataset.level = lv;
  setText($("seg-title"), `${id} ${p.name || ""}`);
  const badge = $("seg-level");
  setAttr(badge, "data-level", lv);
  const floor = s.floor && norm(s.floor) !== "none" ? norm(s.floor) : null;
  setText(badge, lv === "unknown" && floor ? `? ≥ ${word(floor, "zh")}` : lvText(lv));
  setAttr(badge, "data-floor", floor || "");
  setText($("seg-since"), sinceText(s));
  const out = $("seg-outage");
  const off = s.sensors_offline_since;
  const offTxt = off ? fmtTime(off, { seconds: false, date: true }) : "?";
  const outageTxt = s.official_only ? `仅官方预警，传感器自 ${offTxt} 离线 · official only, sensors offline since ${offTxt}`
    : s.sensors_offline || off ? `传感器自 ${offTxt} 离线 · sensors offline since ${offTxt}`
    : lv === "unknown" ? `数据不明：${(s.unknown_hazards || []).map((k) => hazardName({ hazard: k }, "zh")).join("、") || "关键监测数据缺失"} · unknown: key data missing${floor ? `; at least ${word(floor, "en").toLowerCase()}` : ""}` : "";
  // a level above every hazard's: held by the dwell after the peak, or set by the duty officer
  const hzMax = Math.max(0, ...(s.hazards || []).filter((z) => z.hazard !== "override").map((z) => rank(z.level)));
  let heldTxt = "";
  if (s.override) heldTxt = `值班人员设定 set by ${who(s.override.by)} until ${fmtTime(s.override.expires_at, { seconds: false, date: true })}: ${s.override.reason || ""}`;
  else if (lv !== "unknown" && rank(lv) > hzMax) {
    const pd = s.pending_downgrade;
    heldTxt = `保持${word(lv, "zh")}（消退观察） held at ${word(lv, "en").toLowerCase()}: the hazards now say ${word(["none", "unknown", "blue", "yellow", "orange", "red"][hzMax], "en").toLowerCase()}`
      + (pd && pd.below_since ? `, lower since ${fmtTime(pd.below_since, { seconds: false })}` : "");
  }
  const note = [outageTxt, heldTxt].filter(Boolean).join(" · ");
  out.hidden = !note;
  setText(out, note);
  // every hazard: value vs threshold, level and source; the worst first
  const hz = [...(s.hazards || [])].sort((a, b) => rank(b.level) - rank(a.level));
  const key = JSON.stringify(hz);
  const t = $("seg-hazards");
  if (t.dataset.key !== key) {
    t.dataset.key = key;
    t.replaceChildren(h("thead", {}, h("tr", {}, ...["因素 Hazard", "实测 / 阈值 Value / threshold", "等级", "依据 Source"].map((x) => h("th", { scope: "col", text: x })))));
    const tb = h("tbody");
    for (const z of hz) {
      const val = z.value != null ? fmtValue(z.value, z.unit, { lang: "en", precise: true }) : norm(z.level) === "unknown" ? "?" : "–";
      const thr = z.threshold != null ? ` / ${fmtValue(z.threshold, z.unit, { lang: "en", precise: true })}` : "";
      const src = String(z.source || z.threshold_source || "");
      tb.append(h("tr", { "data-hazard": z.hazard, "data-level": norm(z.level) },
        h("th", { scope: "row" }, h("div", { text: hazardName(z, "zh") }), h("div", { class: "dim en", text: hazardName(z, "en") })),
        h("td", { class: "num" }, h("div", { text: `${val}${thr}` }),
          z.detail ? h("div", { class: "detail dim", title: z.detail, text: z.detail.length > 110 ? z.detail.slice(0, 108) + "…" : z.detail }) : null),
        h("td", {}, lvSpan(z.level)),
        h("td", { class: "src dim", title: src, text: src.length > 48 ? src.slice(0, 46) + "…" : src }),
      ));
    }
    if (!hz.length) tb.append(h("tr", {}, h("td", { colspan: 4, class: "dim", text: "无数据 no hazard data" })));
    t.append(tb);
  }
  const hw = s.next_high_water;
  setText($("seg-hw"), hw ? `${fmtTime(hw.at, { seconds: false, date: true })} · ${hw.level_m != null ? hw.level_m.toFixed(2) + " m" : "?"}` : "未知 unknown");
  const tt = s.time_to_threshold;
  const nextEl = $("seg-next");
  if (tt && tt.level && rank(tt.level) > rank(lv) && tt.seconds != null) {
    nextEl.replaceChildren(lvSpan(tt.level), ` ${tt.seconds <= 0 ? "现在 now" : `${fmtDuration(tt.seconds)} 后 (${fmtTime(tt.at, { seconds: false })})`}`);
  } else if (lv === "red") {
    setText(nextEl, "已是最高级 already the highest level");
  } else {
    setText(nextEl, "12 h 内无更高等级预计 no higher level expected within 12 h");
  }
  nextEl.dataset.level = tt && rank(tt.level) > rank(lv) ? norm(tt.level) : "";
}

// ---------- connection ----------
function onStatus(status, detail) {
  const c = $("conn");
  c.dataset.state = status;
  const txt = {
    connecting: "连接中 connecting", open: "在线 live", reconnecting: "重连中 reconnecting",
    disconnected: "已断开 disconnected", waiting: `重连 ${Math.ceil((detail.delay_ms || 0) / 1000)} s 后 retry`, closed: "关闭 closed",
  }[status] || status;
  c.querySelector(".conn-text").textContent = txt;
  setOffline(status !== "open");
}

function setOffline(off) {
  $("offline-banner").hidden = !off || !app.everOpen;
  document.body.classList.toggle("offline", off && !!app.everOpen);
}

function tick() {
  const now = new Date(serverClock.nowMs()).toISOString();
  setText($("clock"), fmtTime(now));
  setText($("clock-date"), new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", weekday: "short" }).format(new Date(now)));
  if (app.live && app.live.ws && app.live.ws.readyState === 1) {
    app.everOpen = true;
    const silent = app.lastMessageMs && Date.now() - app.lastMessageMs > SILENT_AFTER_MS;
    if (silent) { $("conn").dataset.state = "silent"; $("conn").querySelector(".conn-text").textContent = "无数据 silent"; }
    setOffline(!!silent);
  }
  if (app.stateAtMs) setText($("last-age"), `(${fmtAge(Math.max(0, serverClock.nowMs() - app.stateAtMs) / 1000)} ago)`);
  renderStations();
  if (app.selected && app.state) setText($("seg-since"), sinceText(segState(app.selected)));
}

// ---------- alarms ----------
let alarmTimer = null;
function scheduleAlarmRefresh() {
  clearTimeout(alarmTimer);
  alarmTimer = setTimeout(loadAlarms, 1500);
}

async function loadAlarms() {
  try {
    const data = await getJSON("/api/v1/alarms?limit=500");
    const items = data.items || [];
    app.alarmsComplete = items.length < 500;
    app.alarms = new Map(items.map((a) => [a.id, a]));
    invalidate("alarms");
  } catch (e) {
    $("alarms").dataset.error = String(e.message || e);
  }
}

const KIND = { segment: "海塘", village: "村社", town: "镇街", city: "全市", station: "站点", gateway: "网关" };

function subjectName(kind, id) {
  if (kind === "city") return `全市 ${nameOf("city", id)}`;
  if (kind === "segment") { const f = app.layers.seawall_segment && app.layers.seawall_segment[id]; return `海塘 ${id}${f && f.properties.name ? " " + f.properties.name : ""}`; }
  if (kind === "station") { const f = app.layers.station && app.layers.station[id]; return `站点 ${id}${f && f.properties.name ? " " + f.properties.name : ""}`; }
  return `${KIND[kind] || kind} ${nameOf(kind, id)}`;
}

function who(actor) {
  return String(actor || "").replace(/^(user|key|feed):/, "");
}

function isOutage(a) { return a.alarm_type === "data_outage"; }

function reasonText(a) {
  if (isOutage(a)) return `数据中断 data outage${a.detail ? ": " + a.detail : ""}${a.cleared_at ? ` · 已恢复 back since ${fmtTime(onSystemClock(a.cleared_at), { seconds: false })}` : ""}`;
  const rs = [...(a.reasons || [])].filter((r) => r && (typeof r === "string" || norm(r.level) !== "none"));
  rs.sort((x, y) => rank(y.level) - rank(x.level));
  const r = rs[0] || (a.reasons || [])[0];
  if (!r) return "";
  if (typeof r === "string") return r;
  const v = r.value != null ? fmtValue(Number(r.value), r.unit, { lang: "en", precise: true }) : "";
  const th = r.threshold != null ? ` ≥ ${fmtValue(Number(r.threshold), r.unit, { lang: "en", precise: true })}` : "";
  return `${hazardName(r, "zh")} ${v}${th}`.trim() + (rs.length > 1 ? ` +${rs.length - 1}` : "");
}

// Groups: one row per subject, newest transition first. A subject's first
// transition out of "unknown" (the engine's first decision after start-up)
// is a start-up state, not an alarm: counted below the list, never "new".
function groups() {
  const bySubject = new Map();
  const items = [...app.alarms.values()].sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || a.id - b.id);
  let startup = 0;
  for (const a of items) {
    const key = `${a.subject_kind}:${a.subject_id}`;
    let g = bySubject.get(key);
    const first = !g;
    if (!g) { g = { key, kind: a.subject_kind, id: a.subject_id, items: [], startupIds: new Set() }; bySubject.set(key, g); }
    if (first && !isOutage(a) && norm(a.from_level) === "unknown" && app.alarmsComplete !== false) { g.startupIds.add(a.id); startup++; }
    g.items.push(a);
  }
  const out = [];
  for (const g of bySubject.values()) {
    g.alarms = g.items.filter((a) => !g.startupIds.has(a.id));
    if (!g.alarms.length) continue;
    g.latest = g.alarms[g.alarms.length - 1];
    g.unacked = g.alarms.filter((a) => !a.acknowledged_at);
    g.level = norm(g.latest.to_level);
    g.floor = g.latest.to_floor;
    out.push(g);
  }
  const kindRank = { city: 0, town: 1, segment: 2, village: 3 };
  out.sort((a, b) => (b.unacked.length > 0) - (a.unacked.length > 0) || rank(b.level) - rank(a.level)
    || (kindRank[a.kind] ?? 9) - (kindRank[b.kind] ?? 9) || Date.parse(b.latest.at) - Date.parse(a.latest.at));
  return { list: out, startup };
}

function canAck() {
  return !!token() && ["duty", "admin"].includes((currentUser() || {}).role);
}

function renderAlarms() {
  const ol = $("alarms");
  const { list, startup } = groups();
  const ack = canAck();
  $("bulk-ack").hidden = !ack;
  const keep = new Set(list.map((g) => g.key));
  for (const li of [...ol.querySelectorAll("li.alarm")]) if (!keep.has(li.dataset.key)) li.remove();
  const empty = ol.querySelector("li.empty");
  if (list.length && empty) empty.remove();
  if (!list.length && !empty) ol.append(h("li", { class: "empty dim", text: "无告警 No alarms" }));
  let prev = null;
  for (const g of list.slice(0, 60)) {
    let li = ol.querySelector(`li.alarm[data-key="${CSS.escape(g.key)}"]`);
    if (!li) li = newAlarmRow(g);
    updateAlarmRow(li, g, ack);
    const want = prev ? prev.nextSibling : ol.firstChild;
    if (want !== li) ol.insertBefore(li, want);
    prev = li;
  }
  const total = list.reduce((n, g) => n + g.unacked.length, 0);
  setText($("alarm-unacked"), String(total));
  $("alarm-unacked").dataset.count = String(total);
  setText($("startup-note"), startup ? `启动时的初始状态 ${startup} 条未列为告警 · ${startup} start-up transitions not listed as alarms` : "");
  updateBulk();
}

function newAlarmRow(g) {
  const li = h("li", { class: "alarm", "data-key": g.key });
  const box = h("input", { type: "checkbox", class: "pick", "aria-label": `选择 select ${g.key}` });
  box.addEventListener("change", updateBulk);
  const btn = h("button", { class: "btn ack", type: "button", "data-ack": g.key, text: "确认 Ack" });
  btn.addEventListener("click", () => ackGroups([li.dataset.key]));
  li.append(
    h("span", { class: "pickcell" }, box),
    h("span", { class: "lv" }),
    h("div", { class: "what" }),
    h("div", { class: "actions" }, btn, h("span", { class: "acked" })),
    h("div", { class: "why" }),
    h("div", { class: "when" }),
  );
  li.querySelector(".what").addEventListener("click", () => { if (g.kind === "segment") selectSegment(g.id); });
  return li;
}

function updateAlarmRow(li, g, ack) {
  const a = g.latest;
  const acked = g.unacked.length === 0;
  setAttr(li, "data-id", String(a.id));
  setAttr(li, "data-acked", acked ? "true" : "false");
  setAttr(li, "data-level", g.level);
  setAttr(li, "data-ids", g.unacked.map((x) => x.id).join(","));
  const lv = li.querySelector(".lv");
  setAttr(lv, "data-level", g.level);
  setText(lv, isOutage(a) ? (a.cleared_at ? "✓ 恢复" : "⚠ 中断") : floorText(g.level, g.floor));
  setAttr(li, "data-type", a.alarm_type || "level");
  setAttr(li, "data-cleared", a.cleared_at ? "true" : "false");
  setText(li.querySelector(".what"), isOutage(a) ? `${subjectName(g.kind, g.id)}  数据中断 outage`
    : `${subjectName(g.kind, g.id)}  ${floorText(a.from_level, a.from_floor)} → ${floorText(a.to_level, a.to_floor)}`);
  setText(li.querySelector(".why"), reasonText(a));
  const n = g.alarms.length;
  setText(li.querySelector(".when"), `${fmtTime(onSystemClock(a.at), { date: true, seconds: false })}${n > 1 ? ` · ${n} 次变化 changes` : ""}${g.unacked.length > 1 ? ` · ${g.unacked.length} 未确认 unacked` : ""}${a.notify_count > 1 ? ` · ×${a.notify_count}` : ""}`);
  const btn = li.querySelector("button[data-ack]");
  btn.hidden = acked || !ack;
  li.querySelector(".pickcell").hidden = acked || !ack;
  if (acked) li.querySelector(".pick").checked = false;
  const by = [...new Set(g.alarms.filter((x) => x.acknowledged_by).map((x) => who(x.acknowledged_by)))];
  const last = g.alarms.filter((x) => x.acknowledged_at).pop();
  setText(li.querySelector(".acked"), by.length ? `✓ ${by.join(", ")}` : "");
  li.querySelector(".acked").title = last && last.ack_comment ? last.ack_comment : "";
}

function updateBulk() {
  const picked = [...document.querySelectorAll("#alarms li.alarm .pick:checked")];
  $("ack-selected").disabled = !picked.length || app.acking;
  setText($("ack-selected"), picked.length ? `确认所选 Ack selected (${picked.length})` : "确认所选 Ack selected");
}

async function ackGroups(keys) {
  if (!canAck()) return;
  const comment = $("ack-comment").value.trim() || "已在值班屏确认 acknowledged on the duty screen";
  const ids = [];
  for (const key of keys) {
    const li = $("alarms").querySelector(`li.alarm[data-key="${CSS.escape(key)}"]`);
    if (li && li.dataset.ids) ids.push(...li.dataset.ids.split(",").filter(Boolean).map(Number));
    if (li) li.querySelector("button[data-ack]").disabled = true;
  }
  app.acking = true;
  setText($("ack-status"), `确认中 acknowledging ${ids.length}…`);
  updateBulk();
  let ok = 0, failed = 0;
  for (const id of ids) {
    try {
      const a = await getJSON(`/api/v1/alarms/${id}/ack`, { method: "POST", auth: true, body: { comment } });
      app.alarms.set(a.id, a);
      ok++;
    } catch (e) {
      if (e instanceof HttpError && (e.status === 401 || e.status === 403)) { logout(); $("login-error").textContent = "请重新登录 Please log in again"; break; }
      if (e instanceof HttpError && e.status === 409) { ok++; continue; } // someone else acknowledged it first
      failed++;
    }
  }
  app.acking = false;
  for (const key of keys) {
    const li = $("alarms").querySelector(`li.alarm[data-key="${CSS.escape(key)}"]`);
    if (li) li.querySelector("button[data-ack]").disabled = false;
  }
  setText($("ack-status"), failed ? `${failed} 条确认失败 failed` : `已确认 ${ok} 条 acknowledged ${ok}`);
  if (failed || ok < ids.length) await loadAlarms();
  invalidate("alarms");
}

function onLiveMessage(m, raw) {
  if (m.kind === "alarm" && raw.alarm) {
    app.alarms.set(raw.alarm.id, raw.alarm);
    invalidate("alarms");
  } else if (m.kind === "ping") {
    app.lastMessageMs = Date.now();
  }
}

// ---------- login ----------
function renderAuth() {
  const u = currentUser();
  const logged = !!token() && u;
  $("login-open").hidden = !!logged;
  $("logout").hidden = !logged;
  $("auth-user").hidden = !logged;
  $("auth-user").textContent = logged ? `${u.username} (${u.role})` : "";
  if (logged) $("login-form").hidden = true;
  invalidate("alarms");
}

function logout() {
  setLogin(null);
  renderAuth();
}

function setupLogin() {
  $("login-open").addEventListener("click", () => {
    $("login-form").hidden = !$("login-form").hidden;
    if (!$("login-form").hidden) $("login-user").focus();
  });
  $("logout").addEventListener("click", logout);
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("login-error").textContent = "";
    try {
      const r = await getJSON("/api/v1/auth/login", { method: "POST", body: { username: $("login-user").value, password: $("login-pass").value } });
      setLogin(r.access_token, { username: r.username, role: r.role, expires_at: r.expires_at });
      $("login-pass").value = "";
      renderAuth();
    } catch (e) {
      $("login-error").textContent = e.status === 401 ? "用户名或密码错误 Wrong user or password" : `登录失败 ${e.message}`;
    }
  });
  $("bulk-ack").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const keys = [...document.querySelectorAll("#alarms li.alarm .pick:checked")].map((b) => b.closest("li").dataset.key);
    ackGroups(keys);
  });
  $("ack-all").addEventListener("change", (ev) => {
    for (const b of document.querySelectorAll("#alarms li.alarm .pick")) if (!b.closest(".pickcell").hidden) b.checked = ev.target.checked;
    updateBulk();
  });
  // Drop an expired token.
  const u = currentUser();
  if (u && u.expires_at && Date.parse(u.expires_at) < Date.now()) setLogin(null);
}

// ---------- charts ----------
function stationsFor(segId) {
  const f = app.layers.seawall_segment && app.layers.seawall_segment[segId];
  const p = f ? f.properties : {};
  const has = (id, q) => { const s = id && app.layers.station[id]; return !!(s && (s.properties.quantities || []).includes(q)); };
  const near = Object.values(app.layers.station || {}).filter((s) => s.properties.segment_id === segId).map((s) => s.properties.id);
  const pick = (q, ...cands) => cands.find((c) => has(c, q)) || near.find((c) => has(c, q)) || null;
  return { tide: pick("tide_level", p.tide_station), wind: pick("wind_speed", p.wind_station, p.tide_station), wave: pick("wave_height", p.wave_station, p.tide_station) };
}

function buildPicker() {
  const p = $("station-picker");
  const ids = stationsFor(app.selected);
  p.replaceChildren();
  for (const [q, label] of [["tide", "潮位 Tide"], ["wind", "风 Wind"], ["wave", "浪 Wave"]]) {
    if (ids[q]) p.append(h("span", { class: "chip", "data-station": ids[q], text: `${label} ${ids[q]}` }));
  }
}

function chartKey() {
  const ids = stationsFor(app.selected);
  const ts = [];
  for (const id of Object.values(ids)) {
    const st = id && app.state && app.state.stations[id];
    if (st && st.latest) for (const r of Object.values(st.latest)) ts.push(r.ts);
  }
  const hw = segState(app.selected).next_high_water;
  return `${app.selected}|${ts.join(",")}|${hw ? hw.at : ""}`;
}

function maybeRefreshCharts() {
  if (!app.selected) return;
  // at once when the first state arrives (the charts were drawn without it), else every CHART_EVERY_MS
  if (chartKey() !== app.chartKey && (!app.chartHadState || Date.now() - app.chartAt > CHART_EVERY_MS)) refreshCharts();
}

async function series(station, quantity, from, to) {
  if (!station) return [];
  const q = new URLSearchParams({ quantity, from: new Date(from).toISOString(), to: new Date(to).toISOString(), resolution: "1m" });
  try {
    const r = await getJSON(`/api/v1/stations/${encodeURIComponent(station)}/readings?${q}`, { timeoutMs: 15000 });
    return (r.points || []).map((p) => [Date.parse(p.ts), p.value]);
  } catch {
    return [];
  }
}

// Astronomical tide from the engine's stored model (GET /api/v1/stations/{id}/tide).
async function tidePrediction(station, from, to) {
  if (!station) return { missing: "no_station" };
  const q = new URLSearchParams({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), step: "600" });
  try {
    const r = await getJSON(`/api/v1/stations/${encodeURIComponent(station)}/tide?${q}`, { timeoutMs: 15000 });
    const pts = r.points || [];
    const observed = pts.filter((p) => p.surge_m != null);
    const last = observed[observed.length - 1];
    return { points: pts.map((p) => [Date.parse(p.ts), p.predicted_m]), model: r.model, surge: last ? [Date.parse(last.ts), last.surge_m] : null };
  } catch (e) {
    return { missing: e instanceof HttpError && e.status === 404 ? "no_model" : "error" };
  }
}

// Projection the engine uses: astronomical + surge now x exp(-dt / tau).
function projection(pred, surge, now, method) {
  const m = /exp\(-dt\/([0-9.]+)h\)/.exec(method || "");
  if (!m || !surge || !pred.length) return [];
  const tau = parseFloat(m[1]) * 3600e3;
  return pred.filter(([t]) => t >= now).map(([t, v]) => [t, v + surge[1] * Math.exp(-(t - now) / tau)]);
}

function tideCaption(pred, hw) {
  const hwText = hw ? `下次高潮 next HW ${fmtTime(hw.at, { seconds: false, date: true })} ${hw.level_m?.toFixed(2)} m` : "下次高潮未知 next HW unknown";
  if (pred.missing === "no_model") return `实测 observed 1-min · 尚无潮汐模型 no tidal model yet (needs 29 days of tide history): no astronomical curve, surge or forecast · ${hwText}`;
  if (pred.missing) return `实测 observed 1-min · 天文潮暂缺 astronomical tide unavailable · ${hwText}`;
  const md = pred.model || {};
  const surge = pred.surge ? ` · 增水 surge ${pred.surge[1] >= 0 ? "+" : ""}${pred.surge[1].toFixed(2)} m` : "";
  return `实测 observed · 天文潮 astronomical (${md.method || "utide"}, ${md.n_obs ?? "?"} h, rms ${md.rms_residual_m ?? "?"} m)${surge} · 预报 forecast = astronomical + decaying surge · ${hwText}`;
}

async function refreshCharts() {
  const segId = app.selected;
  if (!segId) return;
  app.chartAt = Date.now();
  app.chartKey = chartKey();
  app.chartHadState = !!app.state;
  const ids = stationsFor(segId);
  // The window ends at the newest reading of these stations, else at the server's now.
  let newest = 0;
  for (const id of Object.values(ids)) {
    const st = id && app.state && app.state.stations[id];
    if (st && st.latest) for (const r of Object.values(st.latest)) newest = Math.max(newest, Date.parse(r.ts) || 0);
  }
  const now = Math.max(newest, serverClock.known ? serverClock.nowMs() : 0) || Date.now();
  const from = now - 48 * 3600e3, to = now + 12 * 3600e3;
  const s = segState(segId);
  const hw = s.next_high_water;
  const [tide, wind, gust, wave, pred] = await Promise.all([
    series(ids.tide, "tide_level", from, now), series(ids.wind, "wind_speed", from, now),
    series(ids.wind, "wind_gust", from, now), series(ids.wave, "wave_height", from, now),
    ids.tide ? tidePrediction(ids.tide, from, to) : Promise.resolve({ missing: "no_station" }),
  ]);
  if (segId !== app.selected) return;
  setText($("chart-station"), `${segId} · ${[ids.tide, ids.wind, ids.wave].filter(Boolean).filter((v, i, a) => a.indexOf(v) === i).join(" / ")}`);
  const seg = app.layers.seawall_segment[segId];
  const wl = (seg && seg.properties.warning_levels_m) || {};
  const astro = pred.points || [];
  const forecast = projection(astro, pred.surge, now, hw && hw.method);
  const hwPts = hw && hw.level_m != null ? [[Date.parse(hw.at), hw.level_m]] : [];
  app.charts.tide.update({
    t0: from, t1: to, now,
    series: [
      { key: "observed", label: "实测 observed", points: tide, stroke: "#f2f6fa", width: 2.5 },
      { key: "astronomical", label: "天文潮 astronomical", points: astro, stroke: "#8fa3b8", dash: [6, 5], width: 2 },
      { key: "forecast", label: "预报 forecast", points: forecast, stroke: "#7fd1ff", width: 3 },
      { key: "next_high_water", label: "下次高潮 next HW", points: hwPts, stroke: "#7fd1ff", marker: true },
    ],
    bands: ["blue", "yellow", "orange", "red"].filter((l) => wl[l] != null).map((l) => ({ value: wl[l], level: l })),
    empty: !ids.tide ? "此段无潮位站 no tide gauge for this segment" : tide.length || astro.length ? null : "无潮位数据 no tide readings",
  });
  setText($("tide-caption"), ids.tide ? `${ids.tide}: ${tideCaption(pred, hw)}` : "");
  const lines = app.config.chart_lines || {};
  const gale = (lines.wind_mean_mps || []).map((l) => ({ value: l.value, label: `${word(l.level, "zh")} ${l.label}`, stroke: colourOf(l.level), axis: "y" }));
  const waveLines = (lines.wave_m || []).map((l) => ({ value: l.value, label: "", stroke: colourOf(l.level), axis: "y2", dash: [2, 6] }));
  app.charts.wind.update({
    t0: from, t1: to, now,
    series: [
      { key: "wind_speed", label: "风速 wind", points: wind, stroke: "#7fd1ff", width: 2.5 },
      { key: "wind_gust", label: "阵风 gust", points: gust, stroke: "#b9e6ff", dash: [3, 4], width: 1.5 },
      { key: "wave_height", label: "浪高 Hs", points: wave, stroke: "#d7a8ff", width: 2.5, axis: "right" },
    ],
    lines: [...gale, ...(wave.length ? waveLines : [])],
    empty: wind.length || wave.length ? null : "无风浪数据 no wind/wave readings",
  });
  setText($("wind-caption"), `${ids.wind || "–"} 风 10 min 均值 wind m/s (左 left) · ${ids.wave || "–"} 有效波高 Hs m (右 right) · 实线标注 labelled lines: 大风预警平均风 gale signal mean wind · 点线 dotted: 浪高预警 wave bands ${(lines.wave_m || []).map((l) => l.value).join(" / ")} m`);
}

function colourOf(level) {
  return COLOURS[norm(level)].on_dark;
}

// ---------- start ----------
function legend() {
  const l = $("legend");
  for (const lv of ["blue", "yellow", "orange", "red", "unknown"]) l.append(lvSpan(lv, lv === "unknown" ? "? 不明" : `${word(lv, "zh")} ${GRADES[lv]}`));
}

async function main() {
  addPatternDefs($("pattern-defs"), "pat");
  legend();
  setupLogin();
  renderAuth();
  setInterval(tick, 1000);
  tick();
  app.charts.tide = new TimeChart($("tide-chart"), { yUnit: "m (CN1985)", height: 215 });
  app.charts.wind = new TimeChart($("wind-chart"), { yUnit: "m/s", y2Unit: "Hs m", height: 215, zeroBased: { left: true, right: true } });
  let geo;
  for (let i = 0; ; i++) {
    try { geo = await loadGeography(); break; } catch (e) {
      $("conn").querySelector(".conn-text").textContent = `地图加载失败 map load failed (${e.message}); retry`;
      await new Promise((r) => setTimeout(r, Math.min(10000, 1000 * 2 ** i)));
    }
  }
  try { app.config = await getJSON("/api/v1/web-config"); setClockSpec(app.config.clock); } catch { /* defaults */ }
  app.geo = geo.fc;
  app.layers = byLayer(geo.fc);
  app.map = new ShoreMap($("map"), geo.fc, { mode: "screen", lang: "zh", basemap: app.config.basemap });
  app.map.onSegmentClick = (id) => selectSegment(id);
  app.map.onStationClick = (id) => {
    const seg = app.layers.station[id] && app.layers.station[id].properties.segment_id;
    if (seg) selectSegment(seg);
  };
  $("follow-worst").addEventListener("click", () => {
    app.follow = true;
    $("follow-worst").setAttribute("aria-pressed", "true");
    const w = worstSegment();
    if (w) selectSegment(w, { auto: true });
  });
  try {
    const w = await getJSON("/api/v1/warnings");
    if (w.city && w.city.name) app.names.city = w.city.name;
    for (const t of (w.city && w.city.towns) || []) {
      app.names.town[t.id] = t.name;
      for (const v of t.villages || []) app.names.village[v.id] = v.name;
    }
  } catch { /* names then come from the geography only */ }
  // Until the first state arrives, the first segment is shown (unknown).
  selectSegment(app.map.segmentOrder[0], { auto: true });
  loadAlarms();
  app.live = new LiveClient("/ws/live", { onState, onStatus, onMessage: onLiveMessage }).start();
  setInterval(() => { if (Date.now() - app.chartAt > 60000) refreshCharts(); }, 5000);
  setInterval(loadAlarms, 60000);
}

main();
