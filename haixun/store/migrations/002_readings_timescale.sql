-- readings as a TimescaleDB hypertable (applied instead of
-- 002_readings_partitioned.sql when TimescaleDB is installed, preloaded and
-- the Timescale License build: see store/migrate.py). Idempotent.
-- Revised: the wall-clock retention policy that was here is gone; retention is
-- counted on data time (070_retention_timescale.sql).

CREATE TABLE IF NOT EXISTS readings (
    station_id  text NOT NULL,
    quantity    text NOT NULL,
    ts          timestamptz NOT NULL,
    value       double precision NOT NULL,
    qc          smallint NOT NULL,
    received_at timestamptz NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, quantity, ts)
);

SELECT create_hypertable('readings', 'ts', chunk_time_interval => interval '1 day', if_not_exists => true);

ALTER TABLE readings SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'station_id, quantity',
    timescaledb.compress_orderby = 'ts DESC'
);
SELECT add_compression_policy('readings', interval '7 days', if_not_exists => true);

-- Same signature as the partitioned mode so callers need not know the mode.
CREATE OR REPLACE FUNCTION haixun_ensure_readings_partition(day date) RETURNS text
LANGUAGE sql AS $$ SELECT 'readings (hypertable)'::text $$;
