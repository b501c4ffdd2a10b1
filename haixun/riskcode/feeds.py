"""Official bulletins as series, the CAP way (docs/riskcode.md "Bulletin series").

Pure: feeds and ``now`` in, the bulletins that count out. Rules:

* A bulletin *takes effect* at ``max(sent, valid_from)`` (``sent`` None: ``valid_from``).
* A bulletin G *supersedes* an earlier one F (earlier = smaller ``(sent, seq)``) of the
  same ``source`` once G has taken effect, when G references F's identifier (an Update
  or Cancel: whatever its area), or when G has the same ``kind`` and its area overlaps
  F's (segment sets intersect, polygons intersect, a bulletin without an area covers the
  whole shoreline). A superseded bulletin never counts again, even after G expires.
* A ``Cancel`` holds no level: it ends the series it references (and supersedes the
  overlapping earlier bulletins of its kind).
* Effective = not a Cancel, inside its validity window (``valid_from <= now < valid_to``),
  taken effect, not superseded. Expired, superseded or cancelled bulletins never hold a
  level. So only the newest valid bulletin per source x kind x area counts.

With ``segments`` (id -> crest line lon/lat) given, a polygon's area is the set of
segments whose crest line it meets, and areas are compared as segment sets (what the
engine does). Without it, a segment list and a polygon are taken as not overlapping (both
kept: the higher one holds, never a missed warning).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from shapely.geometry import LineString, Polygon

from haixun.riskcode.model import FeedItem

Coords = Sequence[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """Where one bulletin stands at ``now``: ``effective``, ``superseded`` (by ``by``), ``cancelled``
    (superseded by a Cancel), ``cancel`` (a Cancel message itself), ``expired``, ``pending``
    (not yet in effect)."""

    status: str
    by: str | None = None

    @property
    def effective(self) -> bool:
        return self.status == "effective"


def _area(f: FeedItem, segments: Mapping[str, Coords] | None, lines: dict[str, LineString]) -> frozenset[str] | None:
    """The feed's area as a segment set (None: cannot be resolved without geometry)."""
    if f.segment_ids:
        return frozenset(f.segment_ids)
    if segments is None:
        return None
    if not f.polygon:
        return frozenset(segments)
    poly = Polygon(f.polygon)
    out = set()
    for sid, coords in segments.items():
        line = lines.get(sid)
        if line is None:
            line = lines[sid] = LineString(coords)
        if poly.intersects(line):
            out.add(sid)
    return frozenset(out)


def _overlap(a: FeedItem, b: FeedItem, sa: frozenset[str] | None, sb: frozenset[str] | None) -> bool:
    if sa is not None and sb is not None:
        return bool(sa & sb)
    # without geometry: whole shoreline overlaps everything; polygons by shapely; mixed -> no
    if not a.segment_ids and not a.polygon or not b.segment_ids and not b.polygon:
        return True
    if a.polygon and b.polygon:
        return bool(Polygon(a.polygon).intersects(Polygon(b.polygon)))
    return False


def _in_effect(f: FeedItem, now: datetime) -> bool:
    return f.sent_at <= now and f.valid_from <= now


def feed_statuses(feeds: Iterable[FeedItem], now: datetime,
                  segments: Mapping[str, Coords] | None = None) -> dict[str, FeedStatus]:
    """Status of every feed (keyed by ``FeedItem.id``) at ``now``."""
    items = sorted(feeds, key=lambda f: (f.sent_at, f.seq, f.id))
    lines: dict[str, LineString] = {}
    areas = {f.id: _area(f, segments, lines) for f in items}
    out: dict[str, FeedStatus] = {}
    for i, f in enumerate(items):
        by: FeedItem | None = None
        for g in items[i + 1:]:
            if g.source != f.source or not _in_effect(g, now):
                continue
            named = bool(f.identifier) and f.identifier in g.references
            if named or (g.kind == f.kind and _overlap(f, g, areas[f.id], areas[g.id])):
                by = g  # the first (oldest) one that supersedes it
                break
        if by is not None:
            out[f.id] = FeedStatus("cancelled" if by.is_cancel else "superseded", by.identifier or by.id)
        elif f.is_cancel:
            out[f.id] = FeedStatus("cancel")
        elif not _in_effect(f, now):
            out[f.id] = FeedStatus("pending")
        elif f.valid_to is not None and now >= f.valid_to:
            out[f.id] = FeedStatus("expired")
        else:
            out[f.id] = FeedStatus("effective")
    return out


def effective_feeds(feeds: Sequence[FeedItem], now: datetime,
                    segments: Mapping[str, Coords] | None = None) -> list[FeedItem]:
    """The bulletins that hold a level at ``now`` (input order kept)."""
    st = feed_statuses(feeds, now, segments)
    return [f for f in feeds if st[f.id].effective]
