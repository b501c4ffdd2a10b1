-- Engine -> API: current decisions, their history, and the live state log.
-- The engine (leader) writes; any number of API processes read and LISTEN on
-- channel 'haixun_state' (payload: the new seq). Idempotent.

-- Current decision per subject (segment, village, town, city).
CREATE TABLE IF NOT EXISTS current_levels (
    subject_kind text NOT NULL,             -- segment | village | town | city
    subject_id   text NOT NULL,
    level        text NOT NULL,             -- after hysteresis, overrides and official inputs
    raw_level    text NOT NULL,             -- what the hazards alone say now
    since        timestamptz NOT NULL,      -- when `level` was entered
    decided_at   timestamptz NOT NULL,
    decision     jsonb NOT NULL,            -- riskcode decision record (reasons, values, thresholds, sources, input times, config version)
    seq          bigint NOT NULL,
    PRIMARY KEY (subject_kind, subject_id)
);

-- Every decision that changed something, and periodic ones (history / "why").
CREATE TABLE IF NOT EXISTS decisions (
    id           bigserial PRIMARY KEY,
    subject_kind text NOT NULL,
    subject_id   text NOT NULL,
    decided_at   timestamptz NOT NULL,
    level        text NOT NULL,
    raw_level    text NOT NULL,
    decision     jsonb NOT NULL,
    config_version text NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_subject_idx ON decisions (subject_kind, subject_id, decided_at DESC);

-- Every level change (threshold crossing): the alarm list of the duty room.
CREATE TABLE IF NOT EXISTS level_changes (
    id               bigserial PRIMARY KEY,
    subject_kind     text NOT NULL,
    subject_id       text NOT NULL,
    at               timestamptz NOT NULL,
    from_level       text NOT NULL,
    to_level         text NOT NULL,
    reasons          jsonb NOT NULL DEFAULT '[]',
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    ack_comment      text,
    notify_count     integer NOT NULL DEFAULT 1,
    last_notified_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS level_changes_at_idx ON level_changes (at DESC);
CREATE INDEX IF NOT EXISTS level_changes_unacked_idx ON level_changes (to_level) WHERE acknowledged_at IS NULL;

-- The live stream: snapshot and delta bodies with a monotonically increasing seq.
CREATE TABLE IF NOT EXISTS state_log (
    seq  bigserial PRIMARY KEY,
    at   timestamptz NOT NULL DEFAULT now(),
    kind text NOT NULL CHECK (kind IN ('snapshot', 'delta')),
    body jsonb NOT NULL
);
