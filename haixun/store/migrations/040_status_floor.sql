-- Issue 12: "unknown, at least <floor>" and data-outage alarms. Idempotent.
-- level_changes (the alarm list) records the floor of both ends, so that
-- "unknown, at least blue" -> "unknown, at least red" is an alarm of its own,
-- and carries data-outage alarms of stations and gateways:
--   alarm_type 'level'       a subject's level (or floor) changed (as before);
--   alarm_type 'data_outage' a station or gateway went silent past its
--                            staleness limit (subject_kind station|gateway,
--                            to_level 'unknown'); cleared_at is set when its
--                            data come back.
ALTER TABLE level_changes ADD COLUMN IF NOT EXISTS from_floor text;
ALTER TABLE level_changes ADD COLUMN IF NOT EXISTS to_floor text;
ALTER TABLE level_changes ADD COLUMN IF NOT EXISTS alarm_type text NOT NULL DEFAULT 'level';
ALTER TABLE level_changes ADD COLUMN IF NOT EXISTS cleared_at timestamptz;
ALTER TABLE level_changes ADD COLUMN IF NOT EXISTS detail text NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS level_changes_open_outage_idx ON level_changes (subject_kind, subject_id)
    WHERE alarm_type = 'data_outage' AND cleared_at IS NULL;
