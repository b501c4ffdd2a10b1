-- readings as a TimescaleDB hypertable (applied instead of
-- 002_readings_partitioned.sql when the extension is available). Idempotent.

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
SELECT add_retention_policy('readings', interval '400 days', if_not_exists => true);

-- Same signature as the partitioned mode so callers need not know the mode.
CREATE OR REPLACE FUNCTION haixun_ensure_readings_partition(day date) RETURNS text
LANGUAGE sql AS $$ SELECT 'readings (hypertable)'::text $$;
