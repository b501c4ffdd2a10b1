// DOM helpers shared by the duty screen and the resident page.

export const $ = (id) => document.getElementById(id);

// h("li", { class: "x", text: "t", "data-level": lv, onclick: fn }, ...children): null/false
// attributes are left out, true is an empty attribute, on* are listeners.
export const h = (tag, attrs = {}, ...kids) => {
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
