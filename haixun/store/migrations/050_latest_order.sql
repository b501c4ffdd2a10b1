-- latest_readings: a future-dated reading must never shadow newer genuine ones
-- (issue 14). Rows are ordered by order_ts = least(ts, time of receipt on the
-- system's clock): a reading stamped ahead of its receipt counts as of its
-- receipt, so the next genuine reading (received later) replaces it, while a
-- late buffered reading (older ts) still never does. Written by ingest
-- (haixun/ingest/writer.py); NULL in rows written before this migration or by
-- other writers, read as ts. Idempotent.
ALTER TABLE latest_readings ADD COLUMN IF NOT EXISTS order_ts timestamptz;
