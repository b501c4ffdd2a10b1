"""A local metric projection for the Pinghu coast (about 30 km across).

An equirectangular projection about a fixed origin near Jiulongshan. Over the
served area (< 40 km) its distance error is far below 0.1 %, which is all the
geography checks and exposure distances need. No pyproj dependency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius

G = TypeVar("G", bound=BaseGeometry)


@dataclass(frozen=True, slots=True)
class LocalProjection:
    """lon/lat (degrees, WGS84) <-> x/y (metres east/north of the origin)."""

    lon0: float = 121.14
    lat0: float = 30.62

    @property
    def _mx(self) -> float:
        return math.radians(1.0) * EARTH_RADIUS_M * math.cos(math.radians(self.lat0))

    @property
    def _my(self) -> float:
        return math.radians(1.0) * EARTH_RADIUS_M

    def to_xy(self, lon: float, lat: float) -> tuple[float, float]:
        return ((lon - self.lon0) * self._mx, (lat - self.lat0) * self._my)

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        return (self.lon0 + x / self._mx, self.lat0 + y / self._my)

    def forward(self, geom: G) -> G:
        """Project a lon/lat geometry to metres."""
        mx, my, lon0, lat0 = self._mx, self._my, self.lon0, self.lat0
        return shapely.transform(geom, lambda c: np.column_stack(((c[:, 0] - lon0) * mx, (c[:, 1] - lat0) * my)))

    def inverse(self, geom: G) -> G:
        """Project a metric geometry back to lon/lat."""
        mx, my, lon0, lat0 = self._mx, self._my, self.lon0, self.lat0
        return shapely.transform(geom, lambda c: np.column_stack((lon0 + c[:, 0] / mx, lat0 + c[:, 1] / my)))


PINGHU = LocalProjection()
