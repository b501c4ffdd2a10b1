-- 1-minute and 1-hour rollups of readings as TimescaleDB continuous aggregates
-- (the API's ?resolution=1m|1h and the charts read them through
-- haixun/store/readings.py). Real-time aggregation (materialized_only = false):
-- buckets above the materialisation watermark are computed from raw readings
-- at query time, so the newest minutes are always included. Failed readings
-- (qc 4) are left out, as in every rollup. avg = sum / n at query time.
-- 071_rollups_partitioned.sql is the plain-PostgreSQL twin (same names and
-- columns, maintained by a trigger). Idempotent.
--
-- Refresh policies cover all history (start_offset NULL): a late or backfilled
-- reading below the watermark is re-materialised by the next refresh (every
-- minute / 5 minutes); until then its bucket shows the earlier value.

CREATE MATERIALIZED VIEW IF NOT EXISTS readings_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT station_id, quantity, time_bucket(interval '1 minute', ts) AS bucket,
       min(value) AS min, max(value) AS max, sum(value) AS sum, count(*) AS n, last(value, ts) AS last
FROM readings WHERE qc <> 4
GROUP BY station_id, quantity, bucket
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS readings_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT station_id, quantity, time_bucket(interval '1 hour', ts) AS bucket,
       min(value) AS min, max(value) AS max, sum(value) AS sum, count(*) AS n, last(value, ts) AS last
FROM readings WHERE qc <> 4
GROUP BY station_id, quantity, bucket
WITH NO DATA;

SELECT add_continuous_aggregate_policy('readings_1m', start_offset => NULL, end_offset => interval '1 minute',
                                       schedule_interval => interval '1 minute', if_not_exists => true);
SELECT add_continuous_aggregate_policy('readings_1h', start_offset => NULL, end_offset => interval '1 hour',
                                       schedule_interval => interval '5 minutes', if_not_exists => true);

CREATE INDEX IF NOT EXISTS readings_1m_series_idx ON readings_1m (station_id, quantity, bucket);
CREATE INDEX IF NOT EXISTS readings_1h_series_idx ON readings_1h (station_id, quantity, bucket);
