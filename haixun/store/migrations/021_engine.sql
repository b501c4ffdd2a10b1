-- Engine: tidal models per tide station and the current engine leader.
-- Written only by the engine leader; read by the API (/readyz, tide pages).
-- Idempotent.

-- One harmonic model per tide station (the latest fit). `model` is the
-- riskcode TideModel JSON (constituents, amplitudes, phases, mean, ...).
CREATE TABLE IF NOT EXISTS tide_models (
    station_id     text PRIMARY KEY,
    fitted_at      timestamptz NOT NULL,
    data_start     timestamptz NOT NULL,     -- first hourly value used
    data_end       timestamptz NOT NULL,     -- last hourly value used
    n_obs          integer NOT NULL,         -- hourly values used
    span_days      double precision NOT NULL,
    rms_residual_m double precision,         -- fit quality (observed - reconstructed), if known
    method         text NOT NULL,            -- e.g. 'utide'
    model          jsonb NOT NULL
);

-- Fit history (one row per successful fit), for audit and quality trends.
CREATE TABLE IF NOT EXISTS tide_model_fits (
    id             bigserial PRIMARY KEY,
    station_id     text NOT NULL,
    fitted_at      timestamptz NOT NULL,
    n_obs          integer NOT NULL,
    span_days      double precision NOT NULL,
    rms_residual_m double precision,
    method         text NOT NULL
);
CREATE INDEX IF NOT EXISTS tide_model_fits_station_idx ON tide_model_fits (station_id, fitted_at DESC);

-- The engine that currently holds the leadership advisory lock (one row).
-- `heartbeat_at` is refreshed by the leader every few seconds; readers judge
-- liveness from it (and from pg_locks, see docs/engine.md).
CREATE TABLE IF NOT EXISTS engine_leader (
    id            smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    instance_id   text NOT NULL,
    host          text NOT NULL,
    pid           integer NOT NULL,
    backend_pid   integer NOT NULL,          -- PostgreSQL pid of the session holding the lock
    since         timestamptz NOT NULL,
    heartbeat_at  timestamptz NOT NULL,
    last_cycle_at timestamptz,
    last_seq      bigint
);
