-- Versioned risk thresholds (riskcode configuration text). Old versions are
-- kept; exactly one is active (partial unique index). Idempotent.
CREATE TABLE IF NOT EXISTS threshold_versions (
    id         bigserial PRIMARY KEY,
    version    text NOT NULL,
    format     text NOT NULL CHECK (format IN ('toml', 'json')),
    body       text NOT NULL,
    sha256     text NOT NULL,
    active     boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL,
    comment    text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS threshold_versions_one_active ON threshold_versions (active) WHERE active;
