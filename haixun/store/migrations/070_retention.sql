-- Retention of raw readings, counted on data time (both modes). Idempotent.
--
-- store_info.retention_days (set by `haixun migrate --retention-days N`,
-- HAIXUN_RETENTION_DAYS; 400 on a new database; 0 = off) says how many days
-- of readings to keep behind the cutoff's reference time, which is the newest
-- stored reading (latest_readings) or the wall clock, whichever is earlier. So
-- a replay of 2021 (`simulate replay --start 2021-...`) is never deleted for
-- being old by the wall clock, and data stamped in the future (an accelerated
-- replay clock) cannot push the cutoff past what the wall clock allows. With
-- no readings at all there is no cutoff. Whole UTC days before the cutoff go,
-- with their rollups (readings_1m, readings_1h), the same in both modes.
-- Replay databases should set 0 (`haixun demo` does).
-- CALL haixun_apply_retention() is mode-specific (070_retention_<mode>.sql).

INSERT INTO store_info(key, value) VALUES ('retention_days', '400') ON CONFLICT (key) DO NOTHING;

CREATE OR REPLACE FUNCTION haixun_retention_cutoff() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN s.days > 0 AND s.newest IS NOT NULL
                THEN least(s.newest, now()) - make_interval(days => s.days) END
    FROM (SELECT coalesce((SELECT value::int FROM store_info WHERE key = 'retention_days'), 0) AS days,
                 (SELECT max(ts) FROM latest_readings) AS newest) s
$$;
