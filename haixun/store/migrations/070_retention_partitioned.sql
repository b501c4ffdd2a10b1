-- Retention in partitioned mode: drop the day partitions that end at or before
-- haixun_retention_cutoff() (070_retention.sql), rounded down to a whole UTC
-- day, and delete older rows from the default partition and the rollups
-- (071_rollups_partitioned.sql; the rollups are created after this file, and
-- the procedure body is resolved only when it runs). Run by `haixun retention`
-- (e.g. daily from cron): plain PostgreSQL has no job scheduler. Idempotent.

-- A procedure, as in timescale mode: `CALL haixun_apply_retention()` returns
-- the number of day partitions dropped.
CREATE OR REPLACE PROCEDURE haixun_apply_retention(INOUT dropped integer DEFAULT 0)
LANGUAGE plpgsql AS $$
DECLARE
    upto timestamptz := date_bin(interval '1 day', haixun_retention_cutoff(), timestamptz '2000-01-03 00:00:00+00');
    part record;
BEGIN
    dropped := 0;
    IF upto IS NULL THEN
        RETURN;
    END IF;
    FOR part IN
        SELECT c.oid::regclass AS rel, c.relname::text AS relname
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'readings'::regclass AND c.relname ~ '^readings_[0-9]{8}$'
    LOOP
        IF (to_date(substr(part.relname, 10), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' <= upto THEN
            EXECUTE format('DROP TABLE %s', part.rel);
            dropped := dropped + 1;
        END IF;
    END LOOP;
    DELETE FROM readings_default WHERE ts < upto;
    DELETE FROM readings_1m WHERE bucket < upto;
    DELETE FROM readings_1h WHERE bucket < upto;
END $$;
