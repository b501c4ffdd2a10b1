"""Official feeds with their series status, shared by GET /feeds and GET /warnings."""

from __future__ import annotations

from typing import Any

from haixun.api.context import ApiContext
from haixun.api.rows import row_json
from haixun.riskcode import feed_statuses
from haixun.store import bulletins
from haixun.store.bulletins import StoredFeed
from haixun.store.feeds import feed_item, series_feed_rows


def feed_json(row: StoredFeed) -> dict[str, Any]:
    """A stored feed with its CAP names too (identifier, references, msgType, sent)."""
    out = row_json(row)
    out.update(identifier=row.external_id, references=list(row.refs or []), msgType=row.msg_type or "Alert",
               sent=out.get("issued_at"))
    return out


async def list_feeds(ctx: ApiContext, active_only: bool) -> list[dict[str, Any]]:
    """Feeds with their series ``status`` at the clock's now (riskcode.feeds.feed_statuses):
    effective / superseded / cancelled / cancel / expired / pending, and ``superseded_by``.
    ``active_only``: the effective ones (those that hold a level now)."""
    now = ctx.settings.clock.now()
    async with ctx.db().connection() as conn:
        if active_only:
            series = await series_feed_rows(conn, now)
            rows = await bulletins.feeds_by_id(conn, [r.id for r in series])
        else:
            rows = await bulletins.recent_feeds(conn, 500)
    segments = {sid: tuple(seg.geometry.coords) for sid, seg in ctx.geo.segments.items()}
    try:
        items = {r.id: feed_item(r) for r in rows}
        statuses = feed_statuses(list(items.values()), now, segments)
    except ValueError:  # a stored row riskcode cannot read (e.g. an old level name): no status rather than no list
        items, statuses = {}, {}
    out = []
    for r in sorted(rows, key=lambda r: (r.issued_at, r.id), reverse=True):
        st = statuses.get(items[r.id].id) if r.id in items else None
        if active_only and (st is None or not st.effective):
            continue
        item = feed_json(r)
        item.update(status=st.status if st else None, superseded_by=st.by if st else None)
        out.append(item)
    return out
