-- Issue 12: official bulletins as CAP series. Idempotent.
-- external_id is the CAP identifier (unique per source), issued_at the CAP
-- sent time. msg_type: Alert | Update | Cancel; refs: identifiers (same
-- source) this bulletin replaces ("references" is an SQL keyword). A Cancel
-- holds no level (level 'none'). Which bulletin counts is decided by
-- riskcode.feeds.effective_feeds (docs/riskcode.md "Bulletin series").
ALTER TABLE official_feeds ADD COLUMN IF NOT EXISTS msg_type text NOT NULL DEFAULT 'Alert';
ALTER TABLE official_feeds ADD COLUMN IF NOT EXISTS refs text[] NOT NULL DEFAULT '{}';
DO $$ BEGIN
    ALTER TABLE official_feeds ADD CONSTRAINT official_feeds_msg_type_check
        CHECK (msg_type IN ('Alert', 'Update', 'Cancel'));
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
CREATE INDEX IF NOT EXISTS official_feeds_series_idx ON official_feeds (source, kind, issued_at);
