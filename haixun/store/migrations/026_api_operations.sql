-- Duty-room operations the engine and the API read. Idempotent.

-- Manual level override of a seawall segment. Active = cleared_at IS NULL
-- AND expires_at > now(). The engine applies the newest active one.
CREATE TABLE IF NOT EXISTS segment_overrides (
    id          bigserial PRIMARY KEY,
    segment_id  text NOT NULL,
    level       text NOT NULL CHECK (level IN ('none', 'blue', 'yellow', 'orange', 'red')),
    reason      text NOT NULL CHECK (length(reason) > 0),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    cleared_at  timestamptz,
    cleared_by  text,
    CHECK (expires_at > created_at)
);
CREATE INDEX IF NOT EXISTS segment_overrides_active_idx
    ON segment_overrides (segment_id, created_at DESC) WHERE cleared_at IS NULL;

-- Operational status of shelters and roads set by the duty room. The
-- geography gives the initial value; a row here wins.
CREATE TABLE IF NOT EXISTS shelter_status (
    shelter_id text PRIMARY KEY,
    open       boolean NOT NULL,
    comment    text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL
);

CREATE TABLE IF NOT EXISTS road_status (
    road_id    text PRIMARY KEY,
    closed     boolean NOT NULL,
    comment    text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL
);
