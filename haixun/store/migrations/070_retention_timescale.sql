-- Retention in timescale mode: drop the whole days (chunks) before haixun_retention_cutoff()
-- (070_retention.sql), daily, as a TimescaleDB job. Replaces the 400-day
-- add_retention_policy of earlier versions, which counted on the wall clock.
-- Idempotent.

SELECT remove_retention_policy('readings', if_exists => true);

-- A procedure, not a function: refresh_continuous_aggregate must run outside a
-- function (it commits). Call it as `CALL haixun_apply_retention()` in
-- autocommit; it returns the number of chunks dropped.
CREATE OR REPLACE PROCEDURE haixun_apply_retention(INOUT dropped integer DEFAULT 0)
LANGUAGE plpgsql AS $$
DECLARE
    upto timestamptz := date_bin(interval '1 day', haixun_retention_cutoff(), timestamptz '2000-01-03 00:00:00+00');
BEGIN
    dropped := 0;
    IF upto IS NULL THEN
        RETURN;
    END IF;
    SELECT count(*) INTO dropped FROM drop_chunks('readings', older_than => upto);
    -- The rollups of the dropped days go too (as in partitioned mode), now
    -- rather than at some later refresh.
    IF dropped > 0 THEN
        CALL refresh_continuous_aggregate('readings_1m', NULL, upto);
        CALL refresh_continuous_aggregate('readings_1h', NULL, upto);
    END IF;
END $$;

CREATE OR REPLACE PROCEDURE haixun_retention_job(job_id integer, config jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    CALL haixun_apply_retention(n);
END $$;

SELECT add_job('haixun_retention_job', interval '1 day')
WHERE NOT EXISTS (SELECT 1 FROM timescaledb_information.jobs WHERE proc_name = 'haixun_retention_job');
