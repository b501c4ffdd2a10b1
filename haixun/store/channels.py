"""PostgreSQL NOTIFY channels and advisory-lock keys shared by the services (docs/state.md).

One definition, imported by every writer and listener, so that they cannot drift.
"""

INGEST_CHANNEL = "haixun_ingest"  # ingest -> engine: {"stations": [...], "n", "max_received_at"};
#                                   api -> engine: {"feeds": <id>} when a bulletin is posted (recompute now)
STATE_CHANNEL = "haixun_state"    # engine -> api: '<seq>' of the new state_log row
ALARM_CHANNEL = "haixun_alarm"    # engine/api -> api: {"event": "new"|"ack"|"renotify"|"ops", "id"?}
CONFIG_CHANNEL = "haixun_config"  # api -> every api process: '<threshold_versions.id>' just activated
#                                   (each reloads the active version; the engine reads it every cycle)

# Advisory locks: the engine leader holds (LOCK_CLASS, LOCK_ENGINE); the API's
# health check reads it in pg_locks, so both take the key from here.
LOCK_CLASS = 0x6861_6978  # "haix" (same namespace as the migration lock)
LOCK_ENGINE = 2           # (class, 2): engine leadership
