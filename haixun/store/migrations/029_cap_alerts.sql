-- CAP 1.2 alerts issued by the API, so Update/Cancel can reference the prior
-- alert. Idempotent.
CREATE TABLE IF NOT EXISTS cap_alerts (
    id          bigserial PRIMARY KEY,
    identifier  text NOT NULL UNIQUE,
    sender      text NOT NULL,
    sent        timestamptz NOT NULL,
    msg_type    text NOT NULL CHECK (msg_type IN ('Alert', 'Update', 'Cancel')),
    refs        text,                          -- CAP <references> value
    fingerprint text NOT NULL,                 -- warned areas+levels this alert describes ('' = none)
    xml         text NOT NULL
);
CREATE INDEX IF NOT EXISTS cap_alerts_sent_idx ON cap_alerts (id DESC);
