// Plain names and rounded values of riskcode's hazard reasons, for both pages.
// The names come from haixun/web/vocabulary.py (served as /static/vocabulary.js),
// the same words the API's reasons use.

import { CAMERA_NAMES, GENERIC_NAMES, HAZARD_NAMES, OFFICIAL_NAMES, SURGE_NAME } from "./vocabulary.js";


const UNITS = { zh: { m: "米", "m/s": "米/秒", "l/s/m": "升/秒·米" }, en: { m: "m", "m/s": "m/s", "l/s/m": "l/s per m" } };

// The reason's kind: a storm_tide reason whose value is the surge says so in its detail.
export function hazardKey(h) {
  const k = String((h && h.hazard) || "");
  if (k === "storm_tide" && /^surge/.test(String(h.detail || ""))) return "surge";
  return k;
}

export function hazardName(h, lang = "zh") {
  const i = lang === "en" ? 1 : 0;
  const k = hazardKey(h);
  if (k === "surge") return SURGE_NAME[i];
  if (k.startsWith("official:")) return (OFFICIAL_NAMES[k.slice(9)] || GENERIC_NAMES.official)[i];
  if (k.startsWith("camera:")) return (CAMERA_NAMES[k.slice(7)] || GENERIC_NAMES.camera)[i];
  return (HAZARD_NAMES[k] || GENERIC_NAMES.other)[i];
}

export function isOfficial(h) { return String((h && h.hazard) || "").startsWith("official:"); }

// Rounded for reading: water levels to 0.1 m for residents (0.01 m on the duty
// screen), waves 0.1 m, wind whole m/s, overtopping 2 significant digits.
export function fmtValue(v, unit, { lang = "zh", precise = false } = {}) {
  if (v == null || !isFinite(v)) return "–";
  const u = (UNITS[lang] || UNITS.en)[unit] ?? unit ?? "";
  let s;
  if (unit === "l/s/m") s = v === 0 ? "0" : Number(v.toPrecision(2)).toString();
  else if (unit === "m/s") s = precise ? v.toFixed(1) : String(Math.round(v));
  else if (unit === "m") s = v.toFixed(precise ? 2 : 1);
  else s = String(Math.round(v * 100) / 100);
  return lang === "zh" && u && !/^[a-z]/i.test(u) ? `${s} ${u}` : `${s} ${u}`.trim();
}
