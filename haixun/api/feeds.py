"""Official feeds with their series status, shared by GET /feeds and GET /warnings."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row

from haixun.api.context import ApiContext
from haixun.api.rows import opt_row_json
from haixun.riskcode import FeedItem, Level, feed_statuses
from haixun.store.feeds import series_feeds

FEED_COLS = ("id, source, external_id, issuer, kind, level, area, valid_from, valid_to, text_zh, text_en, issued_at, "
             "received_at, received_by, msg_type, refs, surge_m, peak_level_m, peak_at")


json_row = opt_row_json


def feed_json(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored feed with its CAP names too (identifier, references, msgType, sent)."""
    out = json_row(row)
    if out is None:
        return None
    out.update(identifier=out.get("external_id"), references=list(out.get("refs") or []),
               msgType=out.get("msg_type", "Alert"), sent=out.get("issued_at"))
    return out


def _feed_item(row: dict[str, Any]) -> FeedItem:
    area = row.get("area") or {}
    return FeedItem(id=str(row["id"]), issuer=row["issuer"], kind=row["kind"], level=Level(row["level"]),
                    valid_from=row["valid_from"], valid_to=row["valid_to"],
                    segment_ids=tuple(area.get("segments") or ()),
                    polygon=tuple(tuple(pt[:2]) for pt in area.get("polygon") or ()),
                    source=row["source"], identifier=row.get("external_id") or f"#{row['id']}",
                    references=tuple(row.get("refs") or ()), msg_type=row.get("msg_type") or "Alert",
                    sent=row["issued_at"], seq=int(row["id"]), surge_m=row.get("surge_m"),
                    peak_level_m=row.get("peak_level_m"), peak_at=row.get("peak_at"))


async def list_feeds(ctx: ApiContext, active_only: bool) -> list[dict[str, Any]]:
    """Feeds with their series ``status`` at the clock's now (riskcode.feeds.feed_statuses):
    effective / superseded / cancelled / cancel / expired / pending, and ``superseded_by``.
    ``active_only``: the effective ones (those that hold a level now)."""
    now = ctx.settings.clock.now()
    async with ctx.db().connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        if active_only:
            rows = await series_feeds(cur, now)
            ids = [r["id"] for r in rows]
            await cur.execute(f"SELECT {FEED_COLS} FROM official_feeds WHERE id = ANY(%s)", (ids,))
        else:
            await cur.execute(f"SELECT {FEED_COLS} FROM official_feeds ORDER BY issued_at DESC, id DESC LIMIT 500")
        rows = list(await cur.fetchall())
    segments = {sid: tuple(seg.geometry.coords) for sid, seg in ctx.geo.segments.items()}
    try:
        statuses = feed_statuses([_feed_item(r) for r in rows], now, segments)
    except ValueError:  # a stored row riskcode cannot read (e.g. an old level name): no status rather than no list
        statuses = {}
    out = []
    for r in sorted(rows, key=lambda r: (r["issued_at"], r["id"]), reverse=True):
        st = statuses.get(str(r["id"]))
        if active_only and (st is None or not st.effective):
            continue
        item = feed_json(r) or {}
        item.update(status=st.status if st else None, superseded_by=st.by if st else None)
        out.append(item)
    return out
