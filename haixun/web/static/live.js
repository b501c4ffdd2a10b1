// Websocket client for the live state stream (docs/state.md, docs/api.md).
//
// The server sends one snapshot (everything) and then deltas (only what
// changed). Deltas are applied by key: a subject present in a delta replaces
// the subject held so far (segments.PH07, areas.towns.T01, stations.ZP-T01,
// ...); a key whose value is null removes the subject. The client remembers
// the last seq and, after any disconnect, reconnects by itself with
// ?since=<last seq> so the server can replay what was missed (or send a
// fresh snapshot, which then replaces everything).

import { serverClock } from "./api.js";

const SECTIONS = ["segments", "stations"];
const AREA_GROUPS = ["towns", "villages"];

export function emptyState() {
  return { seq: null, at: null, segments: {}, areas: { city: null, towns: {}, villages: {} }, stations: {}, latency: null };
}

function mergeKeyed(into, from) {
  for (const [k, v] of Object.entries(from || {})) {
    if (v === null) delete into[k];
    else into[k] = v;
  }
}

// Pure: returns the new state (also mutates `state` for speed).
export function applyBody(state, body, kind) {
  if (kind === "snapshot") state = emptyState();
  for (const s of SECTIONS) if (body[s]) mergeKeyed(state[s], body[s]);
  if (body.areas) {
    if ("city" in body.areas) state.areas.city = body.areas.city;
    for (const g of AREA_GROUPS) if (body.areas[g]) mergeKeyed(state.areas[g], body.areas[g]);
  }
  for (const k of ["seq", "at", "config_version"]) if (body[k] !== undefined) state[k] = body[k];
  if (body.latency) state.latency = body.latency;
  return state;
}

// Normalises the accepted message shapes to {kind, body, pushed_at}:
//   {"kind": "snapshot"|"delta", "body": {...}, "pushed_at": ...}
//   {"type": "snapshot"|"delta", "seq": ..., ...body fields..., "pushed_at": ...}
export function parseMessage(msg) {
  const kind = msg.kind || msg.type;
  if (kind !== "snapshot" && kind !== "delta") return { kind: kind || "other", raw: msg };
  const body = msg.body && typeof msg.body === "object" ? { ...msg.body } : { ...msg };
  if (body.seq === undefined && msg.seq !== undefined) body.seq = msg.seq;
  const pushed_at = msg.pushed_at ?? body.pushed_at ?? null;
  return { kind, body, pushed_at };
}

export function latencyOf(body, pushed_at, receivedMs) {
  const lat = body.latency || {};
  const t0 = lat.sensor_ts ? Date.parse(lat.sensor_ts) : NaN;
  if (!isFinite(t0)) return null;
  const d = (ts) => (ts && isFinite(Date.parse(ts)) ? (Date.parse(ts) - t0) / 1000 : null);
  return {
    sensor_ts: lat.sensor_ts,
    received_s: d(lat.received_at),
    stored_s: d(lat.stored_at),
    decided_s: d(lat.decided_at),
    pushed_s: d(pushed_at),
    screen_s: receivedMs != null ? (receivedMs - t0) / 1000 : null,
  };
}

export class LiveClient {
  // path: "/ws/live"; params: extra query params (object); handlers:
  // onState(state, {kind, seq, latency}), onStatus(status, detail)
  // fatalCodes: close codes after which reconnecting cannot help (e.g. 4404
  // outside the served area); the client then stops and reports "closed".
  constructor(path, { params = {}, onState = () => {}, onStatus = () => {}, onMessage = null, fatalCodes = [4404, 4422] } = {}) {
    this.path = path;
    this.fatalCodes = fatalCodes;
    this.params = params;
    this.onState = onState;
    this.onStatus = onStatus;
    this.onMessage = onMessage;
    this.state = emptyState();
    this.lastSeq = null;
    this.lastMessageAt = null;
    this.lastLatency = null;
    this.attempt = 0;
    this.ws = null;
    this.stopped = false;
    this.timer = null;
    this.reconnects = 0;
  }

  url() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const q = new URLSearchParams(this.params);
    if (this.lastSeq != null) q.set("since", String(this.lastSeq));
    const qs = q.toString();
    return `${proto}//${location.host}${this.path}${qs ? "?" + qs : ""}`;
  }

  start() {
    this.stopped = false;
    this._connect();
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, "bye");
  }

  // Change query parameters (e.g. a new location) and reconnect from scratch.
  setParams(params) {
    this.params = params;
    this.lastSeq = null;
    this.state = emptyState();
    if (this.ws) {
      this._replacing = true;
      this.ws.close(1000, "params");
    } else this._connect();
  }

  _connect() {
    clearTimeout(this.timer);
    const url = this.url();
    this.onStatus(this.reconnects ? "reconnecting" : "connecting", { url });
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      this._schedule();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.onStatus("open", { url });
    };
    ws.onmessage = (ev) => this._onMessage(ev.data);
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) { this.onStatus("closed", { code: ev.code }); return; }
      if (ev.code === 4400) this.lastSeq = null; // our ?since was refused: start over with a snapshot
      if (this.fatalCodes.includes(ev.code)) { this.stopped = true; this.onStatus("closed", { code: ev.code, reason: ev.reason }); return; }
      if (this._replacing) { this._replacing = false; this._connect(); return; }
      this.onStatus("disconnected", { code: ev.code, reason: ev.reason });
      this._schedule();
    };
    ws.onerror = () => {};
  }

  _schedule() {
    this.attempt += 1;
    this.reconnects += 1;
    const base = Math.min(10000, 500 * 2 ** Math.min(this.attempt - 1, 5));
    const delay = base / 2 + Math.random() * (base / 2);
    this.onStatus("waiting", { delay_ms: Math.round(delay), attempt: this.attempt });
    this.timer = setTimeout(() => this._connect(), delay);
  }

  _onMessage(data) {
    const now = Date.now();
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg && typeof msg.server_now === "string") serverClock.note(msg.server_now, now);
    const m = parseMessage(msg);
    if (this.onMessage) this.onMessage(m, msg);
    if (m.kind !== "snapshot" && m.kind !== "delta") return;
    const seq = m.body.seq;
    // A replayed delta we already hold (overlap after reconnect) is skipped.
    if (m.kind === "delta" && this.lastSeq != null && seq != null && seq <= this.lastSeq) return;
    this.state = applyBody(this.state, m.body, m.kind);
    if (seq != null) this.lastSeq = seq;
    this.lastMessageAt = now;
    const latency = latencyOf(m.body, m.pushed_at, now);
    if (latency) this.lastLatency = latency;
    this.onState(this.state, { kind: m.kind, seq, latency, body: m.body, pushed_at: m.pushed_at, receivedAt: now });
  }
}
