"""Points placed from the packaged geography."""

from __future__ import annotations

import math

from haixun.data.geography import load_geography


def behind(segment_id: str, metres: float) -> tuple[float, float]:
    """(lat, lon) ``metres`` landward of the middle vertex of the segment's crest line. The issue's point
    (30.597724, 121.089384) was 80 m behind PH07 in geography 1.2; geography 1.3 moved the Zhapu crest
    line north to the brief's anchor, so the point is computed from the geography in use."""
    seg = next(s for s in load_geography().segments if s.id == segment_id)
    coords = list(seg.geometry.coords)
    lon, lat = coords[len(coords) // 2][:2]
    az = math.radians((seg.orientation_deg + 180.0) % 360.0)  # the wall faces the sea: land is behind
    return (lat + metres * math.cos(az) / 111_320.0,
            lon + metres * math.sin(az) / (111_320.0 * math.cos(math.radians(lat))))
