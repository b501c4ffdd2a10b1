"""What the demo's replay needs besides the simulator itself.

* One replay clock (haixun/clock.py) for every child: the demo builds it once
  (simulated start = wall start = now, ``speed``) and hands ``clock.spec()``
  to ingest, engine, API and the replay as ``HAIXUN_CLOCK``. Ingest QC, the
  engine (staleness, dwell, holds, feed validity) and the API (data ages)
  then judge the storm in simulated time with the packaged thresholds.
* A feed API key (role ``feed``), so the replay's official bulletins reach
  ``POST /api/v1/feeds/{source}``. The previous demo key is revoked first:
  one active demo key at a time.
* ``--backfill-days``: 30 days of hourly history before the live run, so the
  engine fits its tide models (15 days needed) within the demo.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from haixun.api.keys import add_api_key, revoke_api_keys
from haixun.clock import Clock

DEMO_FEED_KEY_NAME = "haixun-demo-replay"
DEMO_ACTOR = "haixun demo"
BACKFILL_DAYS = 30


def demo_clock(speed: float, now: datetime | None = None) -> Clock:
    """The replay clock, anchored at a whole wall-clock second (what the spec can carry)."""
    start = (now or datetime.now(UTC)).replace(microsecond=0)
    return Clock.replay(start, speed, wall_start=start)


def demo_feed_key(database_url: str) -> str:
    """A fresh feed key for the replay (any earlier demo key revoked)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        revoke_api_keys(conn, actor=DEMO_ACTOR, name=DEMO_FEED_KEY_NAME)
        key, _ = add_api_key(conn, name=DEMO_FEED_KEY_NAME, role="feed", sources=[], actor=DEMO_ACTOR)
    return key


def feeds_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/api/v1/feeds/{{source}}"
