-- Core tables: stations, gateways, dead letters, audit. Idempotent.

CREATE TABLE IF NOT EXISTS store_info (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE IF NOT EXISTS stations (
    id          text PRIMARY KEY,
    kind        text NOT NULL,              -- tide_gauge | weather | wave_buoy | multi
    name        text NOT NULL,
    name_en     text,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    elevation_m double precision,           -- sensor zero / reference elevation
    datum       text NOT NULL DEFAULT 'CN1985',
    segment_id  text,                       -- segment it represents, if any
    gateway_id  text,
    quantities  text[] NOT NULL DEFAULT '{}',
    props       jsonb NOT NULL DEFAULT '{}',
    active      boolean NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS cameras (
    id          text PRIMARY KEY,
    kind        text NOT NULL,              -- thermal_ptz | starlight_dome
    name        text NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    segment_ids text[] NOT NULL DEFAULT '{}',
    gateway_id  text,
    props       jsonb NOT NULL DEFAULT '{}',
    active      boolean NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS camera_events (
    id           bigserial PRIMARY KEY,
    camera_id    text NOT NULL,
    ts           timestamptz NOT NULL,
    type         text NOT NULL,
    confidence   double precision NOT NULL,
    segment_id   text,
    snapshot_url text,
    extra        jsonb NOT NULL DEFAULT '{}',
    received_at  timestamptz NOT NULL,
    stored_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (camera_id, ts, type)
);
CREATE INDEX IF NOT EXISTS camera_events_ts_idx ON camera_events (ts DESC);
CREATE INDEX IF NOT EXISTS camera_events_segment_idx ON camera_events (segment_id, ts DESC);

CREATE TABLE IF NOT EXISTS gateway_status (
    gateway_id text PRIMARY KEY,
    online     boolean NOT NULL,
    ts         timestamptz,
    extra      jsonb NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS gateway_status_history (
    id         bigserial PRIMARY KEY,
    gateway_id text NOT NULL,
    online     boolean NOT NULL,
    ts         timestamptz,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS gateway_status_history_idx ON gateway_status_history (gateway_id, received_at DESC);

CREATE TABLE IF NOT EXISTS dead_letters (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL,
    topic       text NOT NULL,
    payload     bytea NOT NULL,
    reason      text NOT NULL,
    detail      text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS dead_letters_received_idx ON dead_letters (received_at DESC);
CREATE INDEX IF NOT EXISTS dead_letters_reason_idx ON dead_letters (reason);

CREATE TABLE IF NOT EXISTS audit_log (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text NOT NULL,
    action  text NOT NULL,
    target  text NOT NULL DEFAULT '',
    before  jsonb,
    after   jsonb,
    comment text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_log_at_idx ON audit_log (at DESC);
