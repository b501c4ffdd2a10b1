-- 1-minute and 1-hour rollups of readings in plain PostgreSQL: tables with the
-- same names and columns as timescale mode's continuous aggregates
-- (071_rollups_timescale.sql), kept current by a statement trigger on readings
-- that folds every inserted batch into its buckets (min, max, sum, n, last).
-- Failed readings (qc 4) are left out. Buckets: date_bin from 2000-01-03 UTC,
-- the same edges as time_bucket. Idempotent.

CREATE TABLE IF NOT EXISTS readings_1m (
    station_id text NOT NULL,
    quantity   text NOT NULL,
    bucket     timestamptz NOT NULL,
    min        double precision NOT NULL,
    max        double precision NOT NULL,
    sum        double precision NOT NULL,
    n          bigint NOT NULL,
    last       double precision NOT NULL,
    last_ts    timestamptz NOT NULL,
    PRIMARY KEY (station_id, quantity, bucket)
);
CREATE TABLE IF NOT EXISTS readings_1h (LIKE readings_1m INCLUDING ALL);

-- The statement that folds the rows of `source` (the trigger's transition
-- table, or readings itself) into `target`. Rows are grouped and locked in key
-- order, so concurrent writers cannot deadlock on the same buckets.
CREATE OR REPLACE FUNCTION haixun_rollup_sql(target text, source text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format(
        'INSERT INTO %1$I AS r (station_id, quantity, bucket, min, max, sum, n, last, last_ts)'
        ' SELECT station_id, quantity, date_bin(%3$L::interval, ts, timestamptz ''2000-01-03 00:00:00+00'') AS b,'
        '        min(value), max(value), sum(value), count(*), (array_agg(value ORDER BY ts DESC))[1], max(ts)'
        ' FROM %2$I WHERE qc <> 4 GROUP BY station_id, quantity, b ORDER BY station_id, quantity, b'
        ' ON CONFLICT (station_id, quantity, bucket) DO UPDATE SET'
        '  min = least(r.min, EXCLUDED.min), max = greatest(r.max, EXCLUDED.max),'
        '  sum = r.sum + EXCLUDED.sum, n = r.n + EXCLUDED.n,'
        '  last = CASE WHEN EXCLUDED.last_ts > r.last_ts THEN EXCLUDED.last ELSE r.last END,'
        '  last_ts = greatest(r.last_ts, EXCLUDED.last_ts)',
        target, source, CASE target WHEN 'readings_1m' THEN '1 minute' ELSE '1 hour' END)
$$;

-- The transition table is visible only inside the trigger function itself.
CREATE OR REPLACE FUNCTION haixun_readings_rollup_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE haixun_rollup_sql('readings_1m', 'haixun_new_readings');
    EXECUTE haixun_rollup_sql('readings_1h', 'haixun_new_readings');
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS readings_rollup ON readings;
CREATE TRIGGER readings_rollup AFTER INSERT ON readings
    REFERENCING NEW TABLE AS haixun_new_readings
    FOR EACH STATEMENT EXECUTE FUNCTION haixun_readings_rollup_trigger();

-- Readings stored before this migration.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM readings_1m) AND NOT EXISTS (SELECT 1 FROM readings_1h) THEN
        EXECUTE haixun_rollup_sql('readings_1m', 'readings');
        EXECUTE haixun_rollup_sql('readings_1h', 'readings');
    END IF;
END $$;

-- As in 002_readings_partitioned.sql, but rows moved out of the default
-- partition go straight into the new partition: inserted through `readings`
-- they would fire the rollup trigger and be counted twice.
CREATE OR REPLACE FUNCTION haixun_ensure_readings_partition(day date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'readings_' || to_char(day, 'YYYYMMDD');
    lo timestamptz := day::timestamp AT TIME ZONE 'UTC';
    hi timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
    moved bigint;
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN part;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('haixun_readings_partition'));
    IF to_regclass(part) IS NOT NULL THEN
        RETURN part;
    END IF;
    EXECUTE format('CREATE TEMP TABLE IF NOT EXISTS _haixun_moved (LIKE readings) ON COMMIT DROP');
    EXECUTE format('WITH d AS (DELETE FROM readings_default WHERE ts >= %L AND ts < %L RETURNING *) INSERT INTO _haixun_moved SELECT * FROM d', lo, hi);
    GET DIAGNOSTICS moved = ROW_COUNT;
    EXECUTE format('CREATE TABLE %I PARTITION OF readings FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    IF moved > 0 THEN
        EXECUTE format('INSERT INTO %I SELECT * FROM _haixun_moved', part);
    END IF;
    EXECUTE 'DROP TABLE IF EXISTS _haixun_moved';
    RETURN part;
END $$;
