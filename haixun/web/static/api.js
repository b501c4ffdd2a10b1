// HTTP helpers: JSON fetch with a timeout and the duty login token.
// The token lives in sessionStorage (gone when the tab closes), never in
// localStorage or a cookie.

const TOKEN_KEY = "haixun.token";
const USER_KEY = "haixun.user";

// Server time. During a replay the API's clock runs on simulated time
// (HAIXUN_CLOCK), so data ages are computed against the server's clock, never
// the browser's: every websocket message (and GET /api/v1/stations) carries
// server_now; now on the server = server_now + time elapsed since it arrived.
// A replay clock runs `speed` times faster than the wall: between messages the
// page's "now" advances at that speed (setClockSpec gives it).
export class ServerClock {
  constructor() { this.atMs = null; this.receivedMs = 0; this.speed = 1; this.known = false; }

  note(serverNowIso, receivedMs = Date.now()) {
    const t = Date.parse(serverNowIso || "");
    if (Number.isNaN(t)) return;
    this.atMs = t;
    this.receivedMs = receivedMs;
    this.known = true;
  }

  nowMs() {
    if (this.atMs == null) return Date.now();
    return this.atMs + (Date.now() - this.receivedMs) * this.speed;
  }
}

export const serverClock = new ServerClock();

// The system clock's spec (GET /api/v1/web-config "clock"): a replay clock maps
// a wall instant to simulated time (sim_start + speed x (wall - wall_start)).
// Some stamps are wall-clock marks by design (alarm rows' "at", docs/architecture.md);
// the screens show them on the system clock with this.
let clockSpec = null;
export function setClockSpec(spec) {
  clockSpec = spec && spec.replay ? spec : null;
  serverClock.speed = clockSpec && clockSpec.speed > 0 ? clockSpec.speed : 1;
}

export function onSystemClock(iso) {
  const t = Date.parse(iso || "");
  if (!clockSpec || !isFinite(t)) return iso;
  // already on the system clock (a simulated time far from now on the wall)? leave it
  if (Math.abs(t - serverClock.nowMs()) < Math.abs(t - Date.now())) return iso;
  const sim = Date.parse(clockSpec.sim_start) + clockSpec.speed * (t - Date.parse(clockSpec.wall_start));
  return new Date(sim).toISOString();
}

export function token() {
  try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; }
}

export function currentUser() {
  try { return JSON.parse(sessionStorage.getItem(USER_KEY) || "null"); } catch { return null; }
}

export function setLogin(tok, user) {
  try {
    if (tok) { sessionStorage.setItem(TOKEN_KEY, tok); sessionStorage.setItem(USER_KEY, JSON.stringify(user || null)); }
    else { sessionStorage.removeItem(TOKEN_KEY); sessionStorage.removeItem(USER_KEY); }
  } catch { /* private mode: the token stays only in memory for this page */ }
}

export class HttpError extends Error {
  constructor(status, detail) {
    super(`HTTP ${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

export async function getJSON(url, { timeoutMs = 10000, auth = false, method = "GET", body = undefined, headers = {} } = {}) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  const h = { Accept: "application/json", ...headers };
  if (auth && token()) h.Authorization = `Bearer ${token()}`;
  let payload = body;
  if (body !== undefined && !(body instanceof URLSearchParams) && typeof body !== "string") {
    h["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  try {
    const r = await fetch(url, { method, headers: h, body: payload, signal: ctl.signal });
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = text; }
    if (!r.ok) {
      const detail = data && typeof data === "object" ? (data.detail ?? JSON.stringify(data)) : String(text).slice(0, 200);
      throw new HttpError(r.status, typeof detail === "string" ? detail : JSON.stringify(detail));
    }
    if (data && typeof data === "object" && typeof data.server_now === "string") serverClock.note(data.server_now);
    return data;
  } finally {
    clearTimeout(timer);
  }
}

export function fmtTime(ts, { seconds = true, date = false } = {}) {
  if (!ts) return "–";
  const d = new Date(ts);
  if (isNaN(d)) return "–";
  const opts = { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false };
  if (seconds) opts.second = "2-digit";
  if (date) { opts.month = "2-digit"; opts.day = "2-digit"; }
  return new Intl.DateTimeFormat("zh-CN", opts).format(d);
}

export function fmtDuration(s) {
  if (s == null || !isFinite(s)) return "–";
  const neg = s < 0;
  s = Math.abs(Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  const out = h ? `${h}h${String(m).padStart(2, "0")}m` : m ? `${m}m` : `${s}s`;
  return neg ? `-${out}` : out;
}
