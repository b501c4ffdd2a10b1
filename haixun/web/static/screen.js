// Duty-room screen (/screen): live map, alarms with acknowledgement, tiered
// counts, next high water per segment and station charts.

import { HttpError, currentUser, fmtDuration, fmtTime, getJSON, serverClock, setLogin, token } from "./api.js";
import { drawChart } from "./chart.js";
import { loadGeography, byLayer } from "./geo.js";
import { LiveClient } from "./live.js";
import { COLOURS, GRADES, LEVELS, norm, rank, word } from "./levels.js";
import { ShoreMap, fmtAge } from "./map.js";

const STALE_AFTER_S = 300; // a station reading older than this is shown as stale (grey hatch + "?")
const SILENT_AFTER_MS = 40000; // no message (pings come every 15 s) for this long = connection suspect
const ORDER = ["red", "orange", "yellow", "blue", "unknown", "none"];

const $ = (id) => document.getElementById(id);
const h = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
};
const lvSpan = (level, text) => h("span", { class: "lv", "data-level": norm(level), text: text ?? lvText(level) });
const lvText = (level) => {
  const lv = norm(level);
  if (lv === "unknown") return "? 不明";
  if (lv === "none") return "无 none";
  return `${word(lv, "zh")} ${GRADES[lv]}`;
};

const app = {
  geo: null, layers: {}, map: null, live: null, state: null, stateAtMs: null,
  alarms: new Map(), selectedStation: null, lastChartKey: null, lastChartAt: 0,
  names: { town: {}, village: {} },
};
window.haixunScreen = app; // for debugging from the console and for tests

function nameOf(kind, id) {
  if (kind === "city") return app.names.city || "平湖市";
  const f = app.layers[kind] && app.layers[kind][id];
  if (f) return f.properties.name || id;
  return (app.names[kind] && app.names[kind][id]) || id;
}

// ---------- live state ----------
function onState(state, info) {
  app.state = state;
  app.stateAtMs = state.at ? Date.parse(state.at) : serverClock.nowMs();
  app.lastMessageMs = Date.now();
  const segIds = new Set([...Object.keys(state.segments), ...(app.map ? app.map.segmentOrder : [])]);
  for (const id of segIds) app.map.setSegmentLevel(id, state.segments[id] ? state.segments[id].level : "unknown");
  app.map.relabelRuns();
  for (const [id, a] of Object.entries(state.areas.towns || {})) app.map.setAreaLevel("town", id, a && a.level);
  for (const [id, a] of Object.entries(state.areas.villages || {})) app.map.setAreaLevel("village", id, a && a.level);
  renderStations();
  renderCity();
  renderTiers();
  renderHighWater();
  $("last-update").textContent = fmtTime(state.at || new Date(serverClock.nowMs()).toISOString());
  $("last-update").dataset.seq = state.seq ?? "";
  if (info.latency) renderLatency(info.latency);
  document.body.dataset.seq = state.seq ?? "";
  if (info.kind === "delta" && info.body && (info.body.segments || info.body.areas)) scheduleAlarmRefresh();
  maybeRefreshCharts();
}

function renderLatency(l) {
  const parts = [];
  const e2e = l.pushed_s ?? l.decided_s;
  const el = $("latency");
  el.textContent = e2e != null ? `${e2e.toFixed(1)} s` : "–";
  const detail = [];
  if (l.decided_s != null) detail.push(`decided ${l.decided_s.toFixed(2)} s`);
  if (l.pushed_s != null) detail.push(`pushed ${l.pushed_s.toFixed(2)} s`);
  if (l.screen_s != null) detail.push(`screen ${l.screen_s.toFixed(2)} s`);
  el.title = `sensor ${fmtTime(l.sensor_ts)} → ${detail.join(", ")}`;
  el.dataset.pushedS = l.pushed_s ?? "";
  el.dataset.decidedS = l.decided_s ?? "";
  const d = h("span", { class: "dim", text: ` (${detail.slice(0, 2).join(" · ")})` });
  el.append(d);
  parts.push(d);
}

// Data ages against the server's clock (simulated time during a replay), not the browser's.
function ageNow(ageS) {
  if (ageS == null) return null;
  return ageS + (app.stateAtMs ? Math.max(0, (serverClock.nowMs() - app.stateAtMs) / 1000) : 0);
}

function renderStations() {
  if (!app.state) return;
  const ids = new Set([...Object.keys(app.layers.station || {}), ...Object.keys(app.state.stations)]);
  for (const id of ids) {
    const st = app.state.stations[id];
    app.map.setStation(id, st ? { ...st, age_s: ageNow(st.age_s) } : null, STALE_AFTER_S);
  }
}

function renderCity() {
  const c = app.state.areas.city;
  const lv = norm(c ? c.level : "unknown");
  const el = $("city-level");
  el.dataset.level = lv;
  el.querySelector(".lb-word").textContent = lv === "unknown" ? "? 数据不明" : lv === "none" ? "无预警 None" : `${word(lv, "zh")}预警 ${GRADES[lv]} ${word(lv, "en").toUpperCase()}`;
}

function countBy(obj) {
  const c = Object.fromEntries(LEVELS.map((l) => [l, 0]));
  for (const v of Object.values(obj || {})) if (v) c[norm(v.level)]++;
  return c;
}

function renderTiers() {
  const t = $("tiers");
  t.innerHTML = "";
  const head = h("tr", {}, h("th", { text: "" }), ...ORDER.map((l) => h("th", { scope: "col" }, lvSpan(l, l === "unknown" ? "?" : l === "none" ? "无" : word(l, "zh")))));
  t.append(h("thead", {}, head));
  const tb = h("tbody");
  const row = (label, counts, cls = "", level = null) => {
    const tr = h("tr", { class: cls, "data-tier": label });
    tr.append(h("th", { scope: "row", text: label }));
    for (const l of ORDER) {
      const n = counts[l] || 0;
      tr.append(h("td", { class: n ? "" : "zero", "data-level": l, text: String(n) }));
    }
    if (level) tr.firstChild.append(" ", lvSpan(level, word(level, "zh")));
    return tr;
  };
  const segs = {};
  for (const id of app.map.segmentOrder) segs[id] = app.state.segments[id] || { level: "unknown" };
  tb.append(row("海塘 Segments", countBy(segs)));
  tb.append(row("镇街 Towns", countBy(app.state.areas.towns)));
  tb.append(row("村社 Villages", countBy(app.state.areas.villages)));
  for (const [id, a] of Object.entries(app.state.areas.towns || {}).sort()) {
    if (!a) continue;
    const counts = a.counts || {};
    const tr = row(`· ${nameOf("town", id)}`, counts, "sub");
    tr.firstChild.append(" ", lvSpan(a.level, word(a.level, "zh")));
    tr.dataset.town = id;
    tb.append(tr);
  }
  t.append(tb);
}

function renderHighWater() {
  const t = $("hw");
  t.innerHTML = "";
  t.append(h("thead", {}, h("tr", {}, ...["段 Seg", "等级", "下次高潮 HW", "到达阈值 To threshold"].map((x) => h("th", { scope: "col", text: x })))));
  const tb = h("tbody");
  const rows = app.map.segmentOrder.map((id) => ({ id, s: app.state.segments[id] || { level: "unknown" } }));
  const ttt = (s) => (s.time_to_threshold && s.time_to_threshold.seconds != null ? s.time_to_threshold.seconds : Infinity);
  rows.sort((a, b) => rank(b.s.level) - rank(a.s.level) || ttt(a.s) - ttt(b.s) || a.id.localeCompare(b.id));
  const MAX = 7;
  for (const { id, s } of rows.slice(0, MAX)) {
    const hw = s.next_high_water;
    const tt = s.time_to_threshold;
    tb.append(h("tr", { "data-segment": id, "data-level": norm(s.level) },
      h("td", { text: id }),
      h("td", {}, lvSpan(s.level)),
      h("td", { text: hw ? `${fmtTime(hw.at, { seconds: false })} ${hw.level_m != null ? hw.level_m.toFixed(2) + " m" : ""}` : "–" }),
      h("td", {}, tt && tt.level ? lvSpan(tt.level, word(tt.level, "zh")) : "", tt ? ` ${tt.seconds <= 0 ? "已达 reached" : fmtDuration(tt.seconds)}` : "–"),
    ));
  }
  if (rows.length > MAX) {
    const rest = countBy(Object.fromEntries(rows.slice(MAX).map((r) => [r.id, r.s])));
    const txt = ORDER.filter((l) => rest[l]).map((l) => `${rest[l]} ${word(l, "zh")}`).join(" · ");
    tb.append(h("tr", { class: "more" }, h("td", { colspan: 4, text: `另 ${rows.length - MAX} 段 more: ${txt}` })));
  }
  t.append(tb);
}

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
  $("clock").textContent = fmtTime(new Date(serverClock.nowMs()).toISOString());
  if (app.live && app.live.ws && app.live.ws.readyState === 1) {
    app.everOpen = true;
    const silent = app.lastMessageMs && Date.now() - app.lastMessageMs > SILENT_AFTER_MS;
    if (silent) { $("conn").dataset.state = "silent"; $("conn").querySelector(".conn-text").textContent = "无数据 silent"; }
    setOffline(!!silent);
  }
  if (app.stateAtMs) $("last-age").textContent = `(${fmtAge(Math.max(0, serverClock.nowMs() - app.stateAtMs) / 1000)} ago)`;
  renderStations();
}

// ---------- alarms ----------
let alarmTimer = null;
function scheduleAlarmRefresh() {
  clearTimeout(alarmTimer);
  alarmTimer = setTimeout(loadAlarms, 400);
}

async function loadAlarms() {
  try {
    const data = await getJSON("/api/v1/alarms?limit=200");
    app.alarms = new Map((data.items || []).filter(isDutyAlarm).map((a) => [a.id, a]));
    renderAlarms();
  } catch (e) {
    $("alarms").dataset.error = String(e.message || e);
  }
}

// Start-up transitions from "unknown" to "none" (the engine's first decision
// for every subject) are not alarms for the duty room; everything else is.
function isDutyAlarm(a) {
  return !(norm(a.from_level) === "unknown" && norm(a.to_level) === "none");
}

function alarmSubject(a) {
  const kind = { segment: "海塘", village: "村社", town: "镇街", city: "全市" }[a.subject_kind] || a.subject_kind;
  if (a.subject_kind === "city") return nameOf("city", a.subject_id);
  const name = a.subject_kind === "segment" ? a.subject_id : nameOf(a.subject_kind, a.subject_id);
  return `${kind} ${name}`;
}

function reasonText(a) {
  const r = (a.reasons || [])[0];
  if (!r) return "";
  if (typeof r === "string") return r;
  if (r.text) return r.text;
  const v = r.value != null ? `${Number(r.value).toFixed(2)}${r.unit ? " " + r.unit : ""}` : "";
  const th = r.threshold != null ? ` ≥ ${r.threshold}` : "";
  return `${r.hazard || ""} ${v}${th}`.trim();
}

function renderAlarms() {
  const ol = $("alarms");
  ol.innerHTML = "";
  const items = [...app.alarms.values()].sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || b.id - a.id);
  const canAck = !!token() && ["duty", "admin"].includes((currentUser() || {}).role);
  for (const a of items.slice(0, 40)) {
    const acked = !!a.acknowledged_at;

    const li = h("li", { class: "alarm", "data-id": a.id, "data-acked": acked ? "true" : "false", "data-level": norm(a.to_level) },
      lvSpan(a.to_level),
      h("div", { class: "what", text: `${alarmSubject(a)}  ${word(a.from_level, "zh")} → ${word(a.to_level, "zh")}` }),
      h("div", { class: "actions" },
        acked ? h("span", { class: "acked", text: `✓ ${a.acknowledged_by || ""}` })
          : canAck ? h("button", { class: "btn ack", type: "button", "data-ack": a.id, text: "确认 Ack", onclick: () => ack(a.id) }) : null),
      h("div", { class: "when", text: `${fmtTime(a.at, { date: true })}  ${reasonText(a)}${a.notify_count > 1 ? `  ×${a.notify_count}` : ""}` }),
    );
    ol.append(li);
  }
  if (!items.length) ol.append(h("li", { class: "dim", text: "无告警 No alarms" }));
  const total = items.filter((a) => !a.acknowledged_at).length;
  $("alarm-unacked").textContent = String(total);
  $("alarm-unacked").dataset.count = String(total);
}

async function ack(id) {
  const btn = document.querySelector(`button[data-ack="${id}"]`);
  if (btn) btn.disabled = true;
  try {
    const a = await getJSON(`/api/v1/alarms/${id}/ack`, { method: "POST", auth: true, body: { comment: "acknowledged on duty screen" } });
    app.alarms.set(a.id, a);
  } catch (e) {
    if (e.status === 401 || e.status === 403) { logout(); $("login-error").textContent = "请重新登录 Please log in again"; }
    else if (e.status === 409) await loadAlarms();
    else alert(`确认失败 Ack failed: ${e.message}`);
  }
  renderAlarms();
}

function onLiveMessage(m, raw) {
  if (m.kind === "alarm" && raw.alarm && isDutyAlarm(raw.alarm)) {
    app.alarms.set(raw.alarm.id, raw.alarm);
    renderAlarms();
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
  renderAlarms();
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
  // Drop an expired token.
  const u = currentUser();
  if (u && u.expires_at && Date.parse(u.expires_at) < Date.now()) setLogin(null);
}

// ---------- charts ----------
function stationsForSegment(segId) {
  const f = app.layers.seawall_segment && app.layers.seawall_segment[segId];
  const p = f ? f.properties : {};
  const near = Object.values(app.layers.station || {}).filter((s) => s.properties.segment_id === segId).map((s) => s.properties.id);
  return { tide: p.tide_station || near[0], wind: p.wind_station || p.tide_station || near[0], wave: p.wave_station || p.tide_station || near[0] };
}

function tideStation(stId) {
  const f = app.layers.station && app.layers.station[stId];
  const p = f ? f.properties : {};
  return p.kind === "tide_gauge" || (p.quantities || []).includes("tide_level");
}

function segmentForStation(stId) {
  const st = app.layers.station && app.layers.station[stId];
  if (st && st.properties.segment_id) return st.properties.segment_id;
  const seg = Object.values(app.layers.seawall_segment || {}).find((f) => f.properties.tide_station === stId);
  return seg ? seg.properties.id : null;
}

function buildPicker() {
  const p = $("station-picker");
  p.innerHTML = "";
  const sts = Object.values(app.layers.station || {}).sort((a, b) => a.geometry.coordinates[0] - b.geometry.coordinates[0]);
  for (const f of sts) {
    const id = f.properties.id;
    p.append(h("button", { class: "btn small", type: "button", "data-station": id, "aria-pressed": "false", text: id, onclick: () => selectStation(id) }));
  }
}

function selectStation(id) {
  app.selectedStation = id;
  for (const b of document.querySelectorAll("#station-picker button")) b.setAttribute("aria-pressed", b.dataset.station === id ? "true" : "false");
  app.map.highlight("station", id);
  app.lastChartKey = null;
  refreshCharts();
}

function maybeRefreshCharts() {
  if (!app.selectedStation) return;
  const st = app.state && app.state.stations[app.selectedStation];
  const key = st && st.latest ? JSON.stringify(Object.values(st.latest).map((r) => r.ts)) : "none";
  if (key !== app.lastChartKey && Date.now() - app.lastChartAt > 15000) refreshCharts();
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
// {points: [[t, predicted]], surge: [t, m] | null, model} or {missing: "why"}.
async function tidePrediction(station, from, to) {
  const q = new URLSearchParams({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), step: "600" });
  try {
    const r = await getJSON(`/api/v1/stations/${encodeURIComponent(station)}/tide?${q}`, { timeoutMs: 15000 });
    const pts = r.points || [];
    const observed = pts.filter((p) => p.surge_m != null);
    const last = observed[observed.length - 1];
    return { points: pts.map((p) => [Date.parse(p.ts), p.predicted_m]), model: r.model,
             surge: last ? [Date.parse(last.ts), last.surge_m] : null };
  } catch (e) {
    return { missing: e instanceof HttpError && e.status === 404 ? "no_model" : "error" };
  }
}

// Projection the engine uses: astronomical + surge now x exp(-dt / tau), tau from the
// forecast's method text ("... exp(-dt/12h)"); none when tau is not known.
function projection(pred, surge, now, method) {
  const m = /exp\(-dt\/([0-9.]+)h\)/.exec(method || "");
  if (!m || !surge || !pred.length) return [];
  const tau = parseFloat(m[1]) * 3600e3;
  return pred.filter(([t]) => t >= now).map(([t, v]) => [t, v + surge[1] * Math.exp(-(t - now) / tau)]);
}

function tideCaption(pred, hw) {
  const hwText = hw ? `下次高潮 next HW ${fmtTime(hw.at, { seconds: false })} ${hw.level_m?.toFixed(2)} m (${hw.method || ""})` : "下次高潮: 未知 next HW unknown";
  if (pred.missing === "no_model") {
    return `实测 1 min 均值 observed 1-min means · 天文潮: 尚无潮汐模型 (需 15 天潮位历史) — no tidal model yet (needs 15 days of tide history), so no astronomical curve, surge or forecast · ${hwText}`;
  }
  if (pred.missing) return `实测 1 min 均值 observed 1-min means · 天文潮: 暂时无法获取 astronomical tide unavailable · ${hwText}`;
  const md = pred.model || {};
  const surge = pred.surge ? ` · 当前增水 surge ${pred.surge[1] >= 0 ? "+" : ""}${pred.surge[1].toFixed(2)} m` : "";
  return `实测 1 min 均值 observed · 天文潮 astronomical (${md.method || "utide"}, ${md.n_obs ?? "?"} h over ${md.span_days ?? "?"} d, rms ${md.rms_residual_m ?? "?"} m)${surge} · 预报 forecast = 天文潮 + 增水衰减 · ${hwText}`;
}

async function refreshCharts() {
  const id = app.selectedStation;
  if (!id) return;
  app.lastChartAt = Date.now();
  const st = app.state && app.state.stations[id];
  app.lastChartKey = st && st.latest ? JSON.stringify(Object.values(st.latest).map((r) => r.ts)) : "none";
  const segId = segmentForStation(id);
  const seg = segId && app.layers.seawall_segment ? app.layers.seawall_segment[segId] : null;
  const segState = segId && app.state ? app.state.segments[segId] : null;
  // The window ends at the newest reading (replays may run on their own clock), else now.
  let newest = 0;
  if (st && st.latest) for (const r of Object.values(st.latest)) newest = Math.max(newest, Date.parse(r.ts) || 0);
  const now = newest || serverClock.nowMs();
  const from = now - 48 * 3600e3;
  const hw = segState && segState.next_high_water;
  const to = now + 12 * 3600e3;
  const ids = segId ? stationsForSegment(segId) : { tide: id, wind: id, wave: id };
  const isTide = !!(st && st.latest && st.latest.tide_level) || tideStation(id);
  const [tide, wind, gust, wave, pred] = await Promise.all([
    series(id, "tide_level", from, now), series(ids.wind === id ? id : id, "wind_speed", from, now),
    series(id, "wind_gust", from, now), series(id, "wave_height", from, now),
    isTide ? tidePrediction(id, from, to) : Promise.resolve({ missing: "not_tide" }),
  ]);
  if (id !== app.selectedStation) return;
  $("chart-station").textContent = `${id}${segId ? " · " + segId : ""}`;
  const wl = (seg && seg.properties.warning_levels_m) || {};
  const astro = pred.points || [];
  const forecast = projection(astro, pred.surge, now, hw && hw.method);
  const hwPts = hw && hw.level_m != null ? [[Date.parse(hw.at), hw.level_m]] : [];
  const tideSeries = [
    { key: "astronomical", label: "天文潮 astronomical", points: astro, stroke: "#8fa3b8", dash: "5 4", width: 2, maxGapMs: 30 * 60e3 },
    { key: "forecast", label: "预报 forecast", points: forecast, stroke: "#7fd1ff", width: 3, maxGapMs: 30 * 60e3 },
    { key: "observed", label: "实测 observed", points: tide, stroke: "#e9eef4", width: 2.5, maxGapMs: 15 * 60e3 },
    { key: "next_high_water", label: "下次高潮 next HW", points: hwPts, stroke: "#7fd1ff", width: 0, marker: true },
  ];
  drawChart($("tide-chart"), {
    t0: from, t1: to, now, nowLabel: "now", yUnit: "m CN1985",
    series: tideSeries.filter((x) => x.points.length),
    hlines: ["blue", "yellow", "orange", "red"].filter((l) => wl[l] != null).map((l) => ({ value: wl[l], level: l })),
    empty: tide.length || astro.length ? null : "无潮位数据 no tide readings",
  });
  $("tide-caption").textContent = tideCaption(pred, hw);
  drawChart($("wind-chart"), {
    t0: from, t1: to, now, nowLabel: "now", yUnit: "m/s", y2Unit: "Hs m", zeroBased: { left: true, right: true },
    series: [
      { key: "wind_speed", label: "风速 wind", points: wind, stroke: "#7fd1ff", width: 2.5, maxGapMs: 15 * 60e3 },
      { key: "wind_gust", label: "阵风 gust", points: gust, stroke: "#7fd1ff", dash: "3 4", width: 2, maxGapMs: 15 * 60e3 },
      { key: "wave_height", label: "浪高 Hs", points: wave, stroke: "#f5c400", width: 2.5, axis: "right", maxGapMs: 15 * 60e3 },
    ],
    hlines: [],
    empty: wind.length || wave.length ? null : "无风浪数据 no wind/wave readings",
  });
  $("wind-caption").textContent = "风速 10 min 均值 m/s (左), 有效波高 Hs m (右) · wind m/s (left), wave m (right)";
}

// ---------- start ----------
function legend() {
  const l = $("legend");
  for (const lv of ["blue", "yellow", "orange", "red", "unknown"]) l.append(lvSpan(lv, lv === "unknown" ? "? 不明" : `${word(lv, "zh")} ${GRADES[lv]}`));
}

async function main() {
  legend();
  setupLogin();
  renderAuth();
  setInterval(tick, 1000);
  tick();
  let geo;
  for (let i = 0; ; i++) {
    try { geo = await loadGeography(); break; } catch (e) {
      $("conn").querySelector(".conn-text").textContent = `地图加载失败 map load failed (${e.message}); retry`;
      await new Promise((r) => setTimeout(r, Math.min(10000, 1000 * 2 ** i)));
    }
  }
  app.geo = geo.fc;
  app.layers = byLayer(geo.fc);
  app.map = new ShoreMap($("map"), geo.fc, {
    mode: "screen", prefix: "pat", lang: "zh", fit: ["seawall_segment", "station", "camera"], pad: 0.02, margin: 60,
  });
  app.map.autoFit();
  app.map.onSegmentClick = (id) => {
    const s = stationsForSegment(id).tide;
    app.map.highlight("seawall_segment", id);
    if (s) selectStation(s);
  };
  app.map.onStationClick = (id) => selectStation(id);
  buildPicker();
  try {
    const w = await getJSON("/api/v1/warnings");
    if (w.city && w.city.name) app.names.city = w.city.name;
    for (const t of (w.city && w.city.towns) || []) {
      app.names.town[t.id] = t.name;
      for (const v of t.villages || []) app.names.village[v.id] = v.name;
    }
  } catch { /* names then come from the geography only */ }
  loadAlarms();
  app.live = new LiveClient("/ws/live", { onState, onStatus, onMessage: onLiveMessage }).start();
  // The station of the first tide gauge is selected by default.
  const first = Object.values(app.layers.station || {}).find((f) => (f.properties.quantities || []).includes("tide_level") || f.properties.kind === "tide_gauge");
  if (first) selectStation(first.properties.id);
  setInterval(() => { if (Date.now() - app.lastChartAt > 60000) refreshCharts(); }, 5000);
  setInterval(loadAlarms, 60000);
}

main();
