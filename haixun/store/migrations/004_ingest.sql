-- Ingest bookkeeping. Idempotent.
-- Drain progress of the on-disk spool (haixun/ingest/spool.py): updated in
-- the same transaction as the rows drained from a segment, so a crash while
-- draining never stores a spooled message twice (dead letters and status
-- history are not idempotent by key).
CREATE TABLE IF NOT EXISTS ingest_spool_progress (
    consumer   text NOT NULL,               -- ingest client id
    segment    text NOT NULL,               -- segment file name
    "offset"   bigint NOT NULL,             -- bytes of the segment already stored
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, segment)
);

-- Window and rollup queries (haixun/store/readings.py) filter by
-- (station_id, quantity, ts): the primary key covers them.
CREATE INDEX IF NOT EXISTS dead_letters_topic_idx ON dead_letters (topic);
