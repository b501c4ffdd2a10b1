// Warning levels shared by the duty screen and the resident page.
//
// none < blue (IV) < yellow (III) < orange (II) < red (I); "unknown" sits
// outside the scale (inputs missing or too old) and is never drawn in a safe
// colour: it is grey with a hatch and a "?".
//
// Every level has a colour AND a pattern AND a word, so it stays readable for
// colour-blind viewers and on a washed-out wall display:
//   blue   solid fill / solid line
//   yellow dotted fill / dotted line
//   orange diagonal stripes / dashed line
//   red    cross-hatch / double line
//   unknown grey hatch + "?"

import { GRADES, LEVEL_COLOURS, LEVEL_WORDS } from "./vocabulary.js";

export const LEVELS = ["none", "unknown", "blue", "yellow", "orange", "red"];
export const WARNING_LEVELS = ["blue", "yellow", "orange", "red"];
const RANK = { none: 0, unknown: 1, blue: 2, yellow: 3, orange: 4, red: 5 };

export function norm(level) {
  const s = String(level ?? "unknown").trim().toLowerCase();
  return s in RANK ? s : "unknown";
}

export function rank(level) {
  return RANK[norm(level)];
}

// The total order of riskcode's Status: none < ?none < blue < ?blue < ... < red.
// An unknown with a floor is at least the floor and may be worse.
const KNOWN = { none: 0, blue: 1, yellow: 2, orange: 3, red: 4 };
export function severity(level, floor = null) {
  const lv = norm(level);
  if (lv !== "unknown") return 2 * KNOWN[lv];
  const f = floor ? norm(floor) : "none";
  return 2 * (KNOWN[f] ?? 0) + 1;
}

export function worst(levels) {
  let out = "none";
  for (const lv of levels) if (rank(lv) > rank(out)) out = norm(lv);
  return out;
}

// Colours (the official hues, chosen for contrast on a dark screen and on white paper; text
// passes WCAG AA on the fill), words and grades: haixun/web/vocabulary.py, served as
// /static/vocabulary.js (and the colours as CSS variables in /static/levels.css).
export const COLOURS = LEVEL_COLOURS;
export const WORDS = LEVEL_WORDS;
export { GRADES };

export function word(level, lang = "zh") {
  return (WORDS[lang] || WORDS.en)[norm(level)];
}

// Short tag for tight places: the level word plus "?" for unknown.
export function tag(level, lang = "en") {
  const lv = norm(level);
  if (lv === "unknown") return "?";
  if (lv === "none") return lang === "zh" ? "无" : "–";
  return lang === "zh" ? word(lv, "zh").slice(0, 1) : word(lv, "en").toUpperCase();
}

const SVG_NS = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, parent = null) {
  const e = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

// <defs> with one fill pattern per level: id "pat-<level>" (prefix optional
// so that several SVGs on a page do not clash).
export function addPatternDefs(svg, prefix = "pat") {
  const defs = el("defs", {}, null);
  svg.insertBefore(defs, svg.firstChild);
  const mk = (lv, size, draw) => {
    const p = el("pattern", {
      id: `${prefix}-${lv}`, patternUnits: "userSpaceOnUse", width: size, height: size,
    }, defs);
    el("rect", { width: size, height: size, fill: COLOURS[lv].fill }, p);
    draw(p, size);
    return p;
  };
  mk("none", 8, () => {});
  mk("blue", 8, () => {});
  mk("yellow", 8, (p) => el("circle", { cx: 4, cy: 4, r: 1.6, fill: "#5c4a00" }, p));
  mk("orange", 10, (p) => {
    el("path", { d: "M-2,2 l4,-4 M0,10 l10,-10 M8,12 l4,-4", stroke: "#5a2500", "stroke-width": 2.2 }, p);
  });
  mk("red", 8, (p) => {
    el("path", { d: "M0,0 L8,8 M8,0 L0,8", stroke: "#ffffff", "stroke-width": 1.4, "stroke-opacity": 0.85 }, p);
  });
  mk("unknown", 8, (p) => {
    el("path", { d: "M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4", stroke: "#ffffff", "stroke-width": 1.6, "stroke-opacity": 0.9 }, p);
  });
  return defs;
}

export function fillFor(level, prefix = "pat") {
  return `url(#${prefix}-${norm(level)})`;
}

// Line styles for the seawall segments (stroke-dasharray, relative to width).
export function lineStyle(level, width) {
  const lv = norm(level);
  const w = width;
  switch (lv) {
    case "yellow": return { dash: `${w * 0.15} ${w * 0.85}`, cap: "round" };
    case "orange": return { dash: `${w * 2.2} ${w * 0.9}`, cap: "butt" };
    case "unknown": return { dash: `${w * 0.9} ${w * 0.6}`, cap: "butt" };
    default: return { dash: "none", cap: "butt" };
  }
}

export { el as svgEl, SVG_NS };
