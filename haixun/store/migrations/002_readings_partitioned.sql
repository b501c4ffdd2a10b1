-- readings for plain PostgreSQL: a table partitioned by day on ts.
-- Applied only when the timescaledb extension is absent (see store/migrate.py);
-- 002_readings_timescale.sql is its twin. Idempotent.

CREATE TABLE IF NOT EXISTS readings (
    station_id  text NOT NULL,
    quantity    text NOT NULL,
    ts          timestamptz NOT NULL,
    value       double precision NOT NULL,
    qc          smallint NOT NULL,          -- QARTOD flag: 1 pass, 2 not evaluated, 3 suspect, 4 fail, 9 missing
    received_at timestamptz NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, quantity, ts)
) PARTITION BY RANGE (ts);

-- Safety net: a reading whose day has no partition yet is still stored.
CREATE TABLE IF NOT EXISTS readings_default PARTITION OF readings DEFAULT;

CREATE INDEX IF NOT EXISTS readings_ts_brin ON readings USING brin (ts);

-- Creates the day partition for `day` if absent. Serialised with an advisory
-- lock so that concurrent writers do not race on CREATE. Rows already in the
-- default partition for that day are moved into the new partition.
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
        EXECUTE 'INSERT INTO readings SELECT * FROM _haixun_moved';
    END IF;
    EXECUTE 'DROP TABLE IF EXISTS _haixun_moved';
    RETURN part;
END $$;
