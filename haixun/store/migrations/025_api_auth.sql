-- API users (JWT login) and API keys (machines). Idempotent.
-- Passwords: hashlib.scrypt (stdlib) string "scrypt$n$r$p$salt_hex$hash_hex".
-- API keys: "hx_<prefix>_<secret>"; stored as the prefix plus SHA-256 of the
-- whole key (high-entropy random secret: a slow hash adds nothing).

CREATE TABLE IF NOT EXISTS api_users (
    id            bigserial PRIMARY KEY,
    username      text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('viewer', 'duty', 'admin')),
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);

CREATE TABLE IF NOT EXISTS api_keys (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL,
    prefix       text NOT NULL UNIQUE,
    key_sha256   text NOT NULL,
    role         text NOT NULL CHECK (role IN ('viewer', 'duty', 'admin', 'feed')),
    sources      text[] NOT NULL DEFAULT '{}',   -- feed sources allowed; empty = all
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);
