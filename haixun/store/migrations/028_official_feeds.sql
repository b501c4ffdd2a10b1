-- Official forecasts and warnings (provincial surge forecast, typhoon/gale
-- warnings, red tide) posted to POST /api/v1/feeds/{source}. The engine reads
-- rows with valid_from <= now() < valid_to. Idempotent.
CREATE TABLE IF NOT EXISTS official_feeds (
    id          bigserial PRIMARY KEY,
    source      text NOT NULL,
    external_id text,
    issuer      text NOT NULL,
    kind        text NOT NULL,
    level       text NOT NULL CHECK (level IN ('none', 'blue', 'yellow', 'orange', 'red')),
    area        jsonb NOT NULL,                -- {"segments": [...]} or {"polygon": [[lon, lat], ...]}
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz NOT NULL,
    text_zh     text NOT NULL DEFAULT '',
    text_en     text NOT NULL DEFAULT '',
    issued_at   timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    received_by text NOT NULL,
    CHECK (valid_to > valid_from)
);
CREATE UNIQUE INDEX IF NOT EXISTS official_feeds_external_idx ON official_feeds (source, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS official_feeds_valid_idx ON official_feeds (valid_to DESC, valid_from);
