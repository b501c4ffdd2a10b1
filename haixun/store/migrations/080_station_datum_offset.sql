-- Issue 13, one datum: every station reports levels on its own `datum`
-- (column since 001) and `datum_offset_m` is the metres to ADD to a reading
-- on that datum to get the warning datum CN1985 (haixun/data/datum.py).
-- Filled by `haixun load-geo` from the geography; ingest converts tide levels
-- with it before QC, so `readings` only ever hold CN1985 levels. Idempotent.
ALTER TABLE stations ADD COLUMN IF NOT EXISTS datum_offset_m double precision NOT NULL DEFAULT 0;
