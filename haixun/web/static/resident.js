// Resident page (/): the location risk code, what it means, what to do,
// reasons, nearest open shelters, nearby roads, community contact, seawall
// overtopping estimate; updated live over /ws/risk.
// Location: navigator.geolocation, else a tap on the map or a village from
// the list. The location never leaves this page except in the risk request.

import { fmtDuration, fmtTime, getJSON, serverClock, setClockSpec } from "./api.js";
import { byLayer, interiorPoint, loadGeography } from "./geo.js";
import { LiveClient } from "./live.js";
import { GRADES, addPatternDefs, norm, rank, word } from "./levels.js";
import { ShoreMap } from "./map.js";
import { fmtValue, hazardKey, hazardName, isOfficial } from "./names.js";
import { $, h } from "./dom.js";

const T = {
  zh: {
    title: "平湖海洋灾害风险码", locating: "正在获取位置…", choose_hint: "请允许定位，或在地图上点选、在列表中选择村（社区）。",
    what_to_do: "怎么做", why: "原因", where: "位置", use_gps: "使用我的位置", choose_village: "选择村（社区）", choose: "请选择…",
    tap_hint: "在地图上点按可选择位置。", wall: "海塘越浪估算", shelters: "最近的开放避灾安置点",
    walk_hint: "步行时间按直线距离 ×1.3、每小时 4.5 公里估算。", roads: "附近道路", contact: "社区联系人",
    updated: "更新时间", connection: "实时连接", switch_label: "Switch to English", switch: "English",
    gps_denied: "未获得定位权限。请在地图上点选位置或选择村（社区）。", gps_unavailable: "无法获取定位。请在地图上点选位置或选择村（社区）。",
    gps_unsupported: "此浏览器不支持定位。请在地图上点选位置或选择村（社区）。",
    outside: "不在服务范围内", outside_text: "本服务覆盖平湖市（乍浦、独山港、当湖）。请在地图上选择范围内的位置。",
    your_location: "您的位置", place_gps: "当前定位", place_map: "地图选点", place_village: "",
    ttt: (lv, d) => `预计 ${d} 后达到${word(lv, "zh")}预警`, ttt_now: (lv) => `已达到${word(lv, "zh")}预警水位`,
    unknown_title: "暂时无法判断风险：监测数据缺失或过旧。请按橙色预警谨慎行事，远离海塘。",
    q: "越浪量", freeboard: "塘顶超高", segment: "海塘段", structure: "结构",
    sloped_dike: "斜坡式海堤", vertical_wall: "直立式海塘", lpsm: "升/秒·米",
    q_class: {
      tolerable: "越浪可忽略", approaching_people_limit: "越浪接近行人安全限值", people_off_the_crest: "行人禁止上塘",
      vehicles_off_the_crest: "塘顶禁止车辆通行", crest_damage_flooding: "塘顶可能受损，堤后可能进水",
    },
    open: "开放", capacity: "可容纳", people: "人", walk: (m, min) => `直线 ${m} · 步行约 ${min} 分钟`,
    closed_road: "已封闭", flooded: (n) => `${n} 处低洼点积水`, open_road: "可通行", no_roads: "2 公里内无封闭或积水道路。",
    no_shelters: "附近暂无开放的安置点，请拨打社区电话。", call: "拨打", sample_contact: "（示例联系人）",
    no_contact: "该位置不在村（社区）范围内。", conn: { open: "已连接", connecting: "连接中", reconnecting: "重连中", waiting: "等待重连", disconnected: "已断开", closed: "已关闭" },
    ago: (s) => `（${s} 前）`, error: "暂时无法获取风险码，请稍后再试。", m: "米", km: "公里",
    call_contact: "拨打社区电话", navigate: "导航前往", nearest: "最近安置点", threshold: "预警线", emergency: "紧急求助 110",
    more_reasons: (n) => `另有 ${n} 项`, town_level: "镇街级预警", located_none: "尚未选择位置",
  },
  en: {
    title: "Pinghu marine hazard risk code", locating: "Finding your location…", choose_hint: "Allow location, or tap the map or pick your village from the list.",
    what_to_do: "What to do", why: "Why", where: "Location", use_gps: "Use my location", choose_village: "Choose village / community", choose: "Choose…",
    tap_hint: "Tap the map to choose a place.", wall: "Seawall overtopping estimate", shelters: "Nearest open shelters",
    walk_hint: "Walking time from straight-line distance ×1.3 at 4.5 km/h.", roads: "Nearby roads", contact: "Community contact",
    updated: "Updated", connection: "Live connection", switch_label: "切换到中文", switch: "中文",
    gps_denied: "Location permission denied. Tap the map or choose your village.", gps_unavailable: "Location unavailable. Tap the map or choose your village.",
    gps_unsupported: "This browser has no location service. Tap the map or choose your village.",
    outside: "Outside the served area", outside_text: "This service covers Pinghu (Zhapu, Dushangang, Danghu). Choose a place inside it on the map.",
    your_location: "Your location", place_gps: "Current location", place_map: "Chosen on map", place_village: "",
    ttt: (lv, d) => `${word(lv, "en")} level expected in ${d}`, ttt_now: (lv) => `${word(lv, "en")} water level reached`,
    unknown_title: "The risk cannot be judged now: monitoring data missing or too old. Act as for orange: keep away from the seawall.",
    q: "Overtopping", freeboard: "Crest freeboard", segment: "Seawall section", structure: "Structure",
    sloped_dike: "sloped dike", vertical_wall: "vertical wall", lpsm: "l/s per m",
    q_class: {
      tolerable: "negligible", approaching_people_limit: "close to the limit for people on the crest",
      people_off_the_crest: "people must keep off the crest", vehicles_off_the_crest: "no vehicles on the crest",
      crest_damage_flooding: "crest damage, water may flood the land behind",
    },
    open: "open", capacity: "capacity", people: "people", walk: (m, min) => `${m} straight line · about ${min} min walk`,
    closed_road: "CLOSED", flooded: (n) => `${n} low point(s) flooded`, open_road: "open", no_roads: "No closed or flooded roads within 2 km.",
    no_shelters: "No open shelter nearby: call your community contact.", call: "Call", sample_contact: "(sample contact)",
    no_contact: "This place is not inside a village or community.", conn: { open: "connected", connecting: "connecting", reconnecting: "reconnecting", waiting: "waiting to reconnect", disconnected: "disconnected", closed: "closed" },
    ago: (s) => ` (${s} ago)`, error: "The risk code is not available right now. Please try again later.", m: "m", km: "km",
    call_contact: "Call community", navigate: "Directions", nearest: "Nearest shelter", threshold: "warning line", emergency: "Emergency 110",
    more_reasons: (n) => `${n} more`, town_level: "Town-level warning", located_none: "No place chosen yet",
  },
};


const app = {
  lang: initialLang(), map: null, layers: {}, loc: null, risk: null, ws: null, updatedMs: null,
};
window.haixunResident = app;

function initialLang() {
  const q = new URLSearchParams(location.search).get("lang");
  if (q === "en" || q === "zh") return q;
  try { const s = sessionStorage.getItem("haixun.lang"); if (s === "en" || s === "zh") return s; } catch { /* ignore */ }
  // the browser's language picks the default: English for an English browser, else Chinese
  const first = String((navigator.languages && navigator.languages[0]) || navigator.language || "zh").toLowerCase();
  return first.startsWith("en") ? "en" : "zh";
}

const t = (k) => T[app.lang][k];

function applyLang() {
  document.documentElement.lang = app.lang === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  for (const e of document.querySelectorAll("[data-i18n]")) {
    const v = t(e.dataset.i18n);
    if (typeof v === "string") e.textContent = v;
  }
  const b = $("lang-switch");
  b.textContent = t("switch");
  b.setAttribute("aria-label", t("switch_label"));
  b.setAttribute("lang", app.lang === "zh" ? "en" : "zh-CN");
  if ($("map")) $("map").setAttribute("aria-label", app.lang === "zh" ? "地图：点按选择位置" : "Map: tap to choose your location");
  fillVillages();
  if (app.risk) renderRisk(app.risk);
}

function fmtDist(m) {
  if (m == null) return "–";
  return m < 1000 ? `${Math.round(m / 10) * 10} ${t("m")}` : `${(m / 1000).toFixed(1)} ${t("km")}`;
}

function fillVillages() {
  const sel = $("village-select");
  const keep = sel.value;
  sel.innerHTML = "";
  sel.append(h("option", { value: "", text: t("choose") }));
  const towns = app.layers.town || {};
  const groups = {};
  for (const f of Object.values(app.layers.village || {})) (groups[f.properties.town_id] ||= []).push(f);
  for (const [tid, vs] of Object.entries(groups).sort()) {
    const tn = towns[tid] ? (app.lang === "en" ? towns[tid].properties.name_en : towns[tid].properties.name) : tid;
    const og = h("optgroup", { label: tn || tid });
    for (const v of vs.sort((a, b) => a.properties.id.localeCompare(b.properties.id))) {
      og.append(h("option", { value: v.properties.id, text: app.lang === "en" ? v.properties.name_en || v.properties.name : v.properties.name }));
    }
    sel.append(og);
  }
  sel.value = keep;
}

// ---------- location ----------
function locate() {
  $("loc-msg").textContent = "";
  if (!("geolocation" in navigator)) { $("loc-msg").textContent = t("gps_unsupported"); return; }
  $("code-place").textContent = t("locating");
  navigator.geolocation.getCurrentPosition(
    (pos) => setLocation(pos.coords.latitude, pos.coords.longitude, "gps"),
    (err) => {
      $("loc-msg").textContent = err.code === 1 ? t("gps_denied") : t("gps_unavailable");
      if (!app.loc) $("code-place").textContent = t("located_none");
    },
    { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 },
  );
}

function setLocation(lat, lon, source, label = null) {
  app.loc = { lat, lon, source, label };
  if (app.map) app.map.setMarker(lon, lat);
  if (source !== "village") $("village-select").value = "";
  fetchRisk();
  connectLive();
}

async function fetchRisk() {
  const { lat, lon } = app.loc;
  const q = new URLSearchParams({ lat: lat.toFixed(5), lon: lon.toFixed(5), lang: app.lang });
  try {
    const r = await getJSON(`/api/v1/risk?${q}`);
    if (app.loc && app.loc.lat === lat && app.loc.lon === lon) renderRisk(r);
  } catch (e) {
    if (e.status === 404) renderOutside();
    else $("loc-msg").textContent = t("error");
  }
}

function connectLive() {
  const params = { lat: app.loc.lat.toFixed(5), lon: app.loc.lon.toFixed(5), lang: app.lang };
  if (!app.ws) {
    app.ws = new LiveClient("/ws/risk", {
      params,
      onStatus: (s, d) => {
        const c = $("conn");
        c.dataset.state = s;
        c.textContent = (t("conn")[s] || s) + (s === "closed" && d.code === 4404 ? ` · ${t("outside")}` : "");
        if (s === "closed" && d.code === 4404) renderOutside();
      },
      onMessage: (m, raw) => {
        if (raw.type === "risk" && raw.risk) renderRisk(raw.risk);
      },
    }).start();
  } else {
    app.ws.stopped = false;
    app.ws.setParams(params);
  }
}

// ---------- rendering ----------
function renderOutside() {
  app.risk = null;
  const card = $("code-card");
  card.dataset.level = "outside";
  $("code-word").textContent = t("outside");
  $("code-title").textContent = t("outside_text");
  $("code-ttt").hidden = true;
  $("code-first").hidden = true;
  $("quick-shelter").hidden = true;
  $("quick-nav").hidden = true;
  for (const id of ["advice-card", "reasons-card", "wall-card", "shelters-card", "roads-card", "contact-card"]) $(id).hidden = true;
}

function placeLabel(r) {
  const c = r.contact;
  const vname = c ? (app.lang === "en" ? c.village_en || c.village : c.village) : null;
  const src = app.loc ? { gps: t("place_gps"), map: t("place_map"), village: "" }[app.loc.source] : "";
  if (r.coverage) return [src, vname, `${t("town_level")}: ${r.coverage.name}`].filter(Boolean).join(" · ");
  return [src, vname, r.zone && r.zone.name].filter(Boolean).join(" · ");
}

function renderRisk(r) {
  app.risk = r;
  const lv = norm(r.code || r.level);
  const card = $("code-card");
  card.dataset.level = lv;
  $("code-place").textContent = placeLabel(r) || t("your_location");
  const floor = lv === "unknown" && r.floor && !["none", "unknown"].includes(norm(r.floor)) ? norm(r.floor) : null;
  card.dataset.floor = floor || "";
  const w = floor ? (app.lang === "zh" ? `? 至少${word(floor, "zh")}` : `? at least ${word(floor, "en").toUpperCase()}`)
    : lv === "unknown" ? `? ${app.lang === "zh" ? word(lv, "zh") : word(lv, "en").toUpperCase()}`
    : lv === "none" ? word(lv, app.lang)
    : app.lang === "zh" ? word(lv, "zh") : word(lv, "en").toUpperCase();
  $("code-word").textContent = w;
  if (GRADES[lv]) $("code-word").append(h("span", { class: "code-grade", text: app.lang === "zh" ? ` ${GRADES[lv]}级` : ` (${GRADES[lv]})` }));
  const adv = r.advice || {};
  $("code-title").textContent = lv === "unknown" ? (adv.title || t("unknown_title")) : adv.title || "";
  const off = r.sensors_offline_since ? fmtTime(r.sensors_offline_since, { seconds: false, date: true }) : null;
  if (r.official_only) $("code-title").textContent += app.lang === "zh" ? `（仅官方预警，监测设备自 ${off || "?"} 离线）` : ` (official warning only, sensors offline since ${off || "?"})`;
  const tt = r.time_to_threshold;
  const ttt = $("code-ttt");
  const firstAction = (adv.actions || [])[0] || adv.text || "";
  $("code-first").hidden = !firstAction;
  $("code-first").textContent = firstAction;
  // only a HIGHER level ahead is worth saying under the code
  if (tt && tt.level && tt.seconds != null && rank(tt.level) > rank(lv)) {
    ttt.hidden = false;
    ttt.textContent = tt.seconds <= 0 ? t("ttt_now")(tt.level) : t("ttt")(tt.level, fmtDuration(tt.seconds));
  } else ttt.hidden = true;

  $("advice-card").hidden = !(adv.text || (adv.actions || []).length);
  // advice.text is the actions joined into one paragraph: show each sentence once,
  // as the list when there is one, else the paragraph
  const actions = (adv.actions || []).slice(1); // the first is under the code
  $("advice-card").hidden = !actions.length;
  $("advice-text").textContent = "";
  $("advice-text").hidden = true;
  $("advice-actions").replaceChildren(...actions.map((a) => h("li", { text: a })));

  const reasons = residentReasons(r.reasons || []);
  $("reasons-card").hidden = !reasons.length;
  $("reasons").replaceChildren(...reasons.map((x) => h("li", { "data-hazard": x.key, "data-level": x.level },
    h("span", { class: "lv", "data-level": x.level, text: x.level === "unknown" ? "?" : word(x.level, app.lang) }),
    x.text)));
  renderQuick(r);

  renderWall(r.wall);
  renderShelters(r.shelters || []);
  renderRoads(r.roads || []);
  renderContact(r.contact);
  app.updatedMs = Date.parse(r.updated_at) || serverClock.nowMs();
  app.dataAge = r.data_age_s;
  $("updated").textContent = fmtTime(r.updated_at, { date: true });
  card.dataset.seq = r.seq ?? "";
  tick();
}

// Reasons for a resident: each kind once (its worst level; the official
// warnings of one kind once, at their highest level), the worst first,
// numbers rounded with units, at most 4 lines.
function residentReasons(list) {
  const best = new Map();
  for (const x of list) {
    const lv = norm(x.level);
    if (lv === "none") continue;
    const key = hazardKey(x);
    const old = best.get(key);
    if (!old || rank(lv) > rank(old.level) || (rank(lv) === rank(old.level) && (x.value ?? -Infinity) > (old.value ?? -Infinity))) best.set(key, { ...x, key, level: lv });
  }
  const out = [...best.values()].sort((a, b) => rank(b.level) - rank(a.level));
  return out.slice(0, 4).map((x) => {
    let text;
    if (x.key === "area_level" || x.key === "stale_data" && x.text) text = x.text;
    else if (x.level === "unknown") text = `${hazardName(x, app.lang)}${app.lang === "zh" ? "：暂无数据" : ": no data"}`;
    else if (isOfficial(x) || x.value == null) text = hazardName(x, app.lang);
    else {
      const v = fmtValue(Number(x.value), x.unit, { lang: app.lang });
      // the warning line as configured (10.8 m/s is Beaufort 6), the value rounded
      const thv = x.threshold != null ? fmtValue(Number(x.threshold), x.unit, { lang: app.lang, precise: x.unit === "m/s" }) : null;
      const th = thv ? (app.lang === "zh" ? `（${t("threshold")} ${thv}）` : ` (${t("threshold")} ${thv})`) : "";
      text = `${hazardName(x, app.lang)}${app.lang === "zh" ? "：" : ": "}${v}${th}`;
    }
    return { key: x.key, level: x.level, text };
  });
}

function townName(id, fallback) {
  const f = id && app.layers.town && app.layers.town[id];
  if (!f) return app.lang === "en" ? "" : fallback || "";
  return app.lang === "en" ? f.properties.name_en || "" : f.properties.name || fallback || "";
}

function geoUri(s) {
  const name = app.lang === "en" ? s.name_en || s.name : s.name;
  return `geo:${s.lat},${s.lon}?q=${s.lat},${s.lon}(${encodeURIComponent(name || "")})`;
}

function walkMinutes(m) {
  return Math.max(1, Math.round((m * 1.3) / 75)); // x1.3 detour at 4.5 km/h = 75 m/min
}

// Right under the code (above the fold on a phone): the nearest open shelter
// with distance, walking time and a navigation link, and the call button.
function renderQuick(r) {
  const s = (r.shelters || [])[0];
  const qs = $("quick-shelter"), nav = $("quick-nav"), call = $("quick-call");
  qs.hidden = !s;
  nav.hidden = !s;
  if (s) {
    qs.replaceChildren(h("span", { class: "k", text: t("nearest") }), " ",
      h("strong", { text: app.lang === "en" ? s.name_en || s.name : s.name }),
      h("div", { class: "sub", text: t("walk")(fmtDist(s.distance_m), walkMinutes(s.distance_m)) }));
    nav.href = geoUri(s);
    nav.textContent = `➜ ${t("navigate")}`;
  }
  const c = r.contact;
  const tel = c ? String(c.phone || "").replace(/[^0-9+]/g, "") : "";
  call.hidden = false;
  call.href = `tel:${tel || "110"}`;
  call.textContent = tel ? `☎ ${t("call_contact")}` : `☎ ${t("emergency")}`;
  call.dataset.kind = tel ? "contact" : "emergency";
}

function renderWall(w) {
  const dl = $("wall");
  $("wall-card").hidden = !w;
  if (!w) return;
  const rows = [
    [t("segment"), w.segment_id],
    [t("structure"), t(w.structure) || w.structure],
    [t("freeboard"), w.freeboard_m != null ? fmtValue(w.freeboard_m, "m", { lang: app.lang }) : "?"],
    [t("q"), w.overtopping_lpsm != null ? (w.overtopping_lpsm < 0.01 ? (app.lang === "zh" ? "几乎为零" : "almost none") : fmtValue(w.overtopping_lpsm, "l/s/m", { lang: app.lang })) : "?"],
  ];
  if (w.overtopping_class) rows.push(["", t("q_class")[w.overtopping_class] || w.overtopping_class]);
  dl.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: v ?? "–" })]));
}

function renderShelters(list) {
  $("shelters-card").hidden = false;
  const ol = $("shelters");
  for (const n of document.querySelectorAll(".shelter-icon.nearest")) n.classList.remove("nearest");
  if (!list.length) { ol.replaceChildren(h("li", { text: t("no_shelters") })); return; }
  ol.replaceChildren(...list.map((s) => {
    const walkMin = walkMinutes(s.distance_m);
    const n = app.map && app.map.nodes[`shelter:${s.id}`];
    if (n) n.classList.add("nearest");
    return h("li", { "data-shelter": s.id },
      h("strong", { text: app.lang === "en" ? s.name_en || s.name : s.name }),
      h("div", { class: "sub", text: t("walk")(fmtDist(s.distance_m), walkMin) }),
      h("div", { class: "sub", text: [app.lang === "en" ? s.address_en : s.address, s.capacity ? `${t("capacity")} ${s.capacity} ${t("people")}` : null].filter(Boolean).join(" · ") }),
      h("a", { class: "navlink", href: geoUri(s), text: `➜ ${t("navigate")}` }));
  }));
}

function renderRoads(list) {
  $("roads-card").hidden = false;
  const ul = $("roads");
  if (!list.length) { ul.replaceChildren(h("li", { text: t("no_roads") })); return; }
  ul.replaceChildren(...list.map((rd) => {
    const fl = (rd.flooded_low_points || []).length;
    return h("li", { "data-road": rd.id },
      h("strong", { text: app.lang === "en" ? rd.name_en || rd.name : rd.name }), " ",
      rd.closed ? h("span", { class: "bad", text: t("closed_road") }) : null, " ",
      fl ? h("span", { class: "bad", text: t("flooded")(fl) }) : null,
      h("div", { class: "sub", text: fmtDist(rd.distance_m) }));
  }));
}

function renderContact(c) {
  $("contact-card").hidden = false;
  const d = $("contact");
  if (!c) { d.replaceChildren(h("p", { text: t("no_contact") })); return; }
  const tel = String(c.phone || "").replace(/[^0-9+]/g, "");
  d.replaceChildren(
    h("div", { text: [app.lang === "en" ? c.village_en || c.village : c.village, townName(c.town_id, c.town)].filter(Boolean).join(" · ") }),
    h("div", { text: `${c.name || ""}${c.role ? " · " + c.role : ""}` }),
    c.sample ? h("div", { class: "sample", text: t("sample_contact") }) : null,
    tel ? h("a", { class: "tel", href: `tel:${tel}`, text: `☎ ${t("call")} ${c.phone}` }) : null,
  );
}

function tick() {
  if (app.updatedMs) {
    // against the server's clock (a replay's simulated time), known from the /ws/risk messages
    const s = Math.max(0, serverClock.nowMs() - app.updatedMs) / 1000;
    const txt = s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
    $("age").textContent = t("ago")(txt);
  }
}

// ---------- start ----------
async function main() {
  addPatternDefs($("pattern-defs"), "pat");
  applyLang();
  $("lang-switch").addEventListener("click", () => {
    app.lang = app.lang === "zh" ? "en" : "zh";
    try { sessionStorage.setItem("haixun.lang", app.lang); } catch { /* ignore */ }
    applyLang();
    if (app.loc) { fetchRisk(); connectLive(); }
  });
  $("use-gps").addEventListener("click", locate);
  $("village-select").addEventListener("change", (ev) => {
    const f = (app.layers.village || {})[ev.target.value];
    if (!f) return;
    const [lon, lat] = interiorPoint(f.geometry);
    setLocation(lat, lon, "village");
  });
  setInterval(tick, 1000);
  locate();
  try {
    const geo = await loadGeography();
    app.layers = byLayer(geo.fc);
    let basemap = null;
    try { const cfg = await getJSON("/api/v1/web-config"); basemap = cfg.basemap; setClockSpec(cfg.clock); } catch { /* offline default */ }
    app.map = new ShoreMap($("map"), geo.fc, { mode: "resident", lang: app.lang, fit: ["land_boundary", "town"], basemap });
    app.map.onMapClick = (lon, lat) => setLocation(lat, lon, "map");
    fillVillages();
    if (app.loc) app.map.setMarker(app.loc.lon, app.loc.lat);
    refreshMapLevels();
    setInterval(refreshMapLevels, 60000);
  } catch (e) {
    $("loc-msg").textContent = t("error");
  }
}

// The small map shows segment levels from /api/v1/segments (refreshed each
// minute and whenever the code changes); the code itself comes from /ws/risk.
async function refreshMapLevels() {
  try {
    const fc = await getJSON("/api/v1/segments");
    for (const f of fc.features || []) app.map.setSegmentLevel(f.properties.id, f.properties.level, f.properties.floor);
    app.map.relabelRuns();
  } catch { /* keep the last picture */ }
}

main();
