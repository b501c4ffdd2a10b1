// Plain names and rounded values of riskcode's hazard reasons, for both pages
// (the same vocabulary as haixun/api/reasons.py).

const HAZARDS = {
  storm_tide: ["潮位", "Sea level at the seawall"],
  surge: ["风暴增水", "Storm surge (above the normal tide)"],
  storm_tide_forecast: ["预报最高潮位（12小时内）", "Forecast high water (next 12 h)"],
  wave: ["浪高", "Wave height"],
  wind: ["风力", "Wind"],
  overtopping: ["越浪量", "Waves over the seawall"],
  override: ["值班人员设定", "Set by the duty officer"],
  stale_data: ["监测数据缺失或过旧", "Monitoring data missing or too old"],
};
const OFFICIAL = {
  surge_forecast: ["官方风暴潮预警", "Official storm surge warning"],
  wave_forecast: ["官方海浪预警", "Official wave warning"],
  typhoon_warning: ["官方台风预警", "Official typhoon warning"],
  gale_warning: ["官方大风预警", "Official gale warning"],
  red_tide: ["官方赤潮预警", "Official red tide warning"],
};
const CAMERA = {
  overtopping: ["摄像头：海浪越过海塘", "Camera: waves over the seawall"],
  water_on_road: ["摄像头：道路积水", "Camera: water on the road"],
  person_on_seawall: ["摄像头：有人在海塘上", "Camera: people on the seawall"],
  vessel_adrift: ["摄像头：船只漂流", "Camera: vessel adrift"],
  wall_damage: ["摄像头：海塘损坏", "Camera: seawall damage"],
  red_tide: ["摄像头：赤潮", "Camera: red tide"],
};
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
  if (k.startsWith("official:")) return (OFFICIAL[k.slice(9)] || ["官方预警", "Official warning"])[i];
  if (k.startsWith("camera:")) return (CAMERA[k.slice(7)] || ["摄像头发现异常", "Camera saw a hazard"])[i];
  return (HAZARDS[k] || ["其他风险因素", "Other risk factor"])[i];
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
