-- Latest non-failed value per station and quantity, maintained by ingest on
-- every batch, so "current conditions" never scans history.
CREATE TABLE IF NOT EXISTS latest_readings (
    station_id  text NOT NULL,
    quantity    text NOT NULL,
    ts          timestamptz NOT NULL,
    value       double precision NOT NULL,
    qc          smallint NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (station_id, quantity)
);
