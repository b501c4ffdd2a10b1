"""PostgreSQL NOTIFY channels between the services (docs/state.md).

One definition, imported by every writer and listener, so that they cannot drift.
"""

INGEST_CHANNEL = "haixun_ingest"  # ingest -> engine: {"stations": [...], "n", "max_received_at"};
#                                   api -> engine: {"feeds": <id>} when a bulletin is posted (recompute now)
STATE_CHANNEL = "haixun_state"    # engine -> api: '<seq>' of the new state_log row
ALARM_CHANNEL = "haixun_alarm"    # engine/api -> api: {"event": "new"|"ack"|"renotify"|"ops", "id"?}
