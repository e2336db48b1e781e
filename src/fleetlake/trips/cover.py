"""Which h3 cells are wholly inside, wholly outside or across the edge of a lon/lat box.

Classification is conservative, so that rollup counts of "inside" cells are exact: a cell's
vertex extent is widened by the most a great-circle edge can bow away from its vertices in
latitude (s²·tan φ / 8R for an edge of length s at latitude φ) plus a hair for rounding.
Longitude along a short great-circle edge is monotonic and needs no widening. Anything in
doubt (antimeridian or polar cells included) is "partial" and gets refined or checked exactly.
"""

from __future__ import annotations

import math
from enum import Enum
from functools import cache

import h3
from h3.api import basic_int as h3i

from fleetlake.trips.areas import BBox

EARTH_RADIUS_KM = 6371.0
ROUNDING_DEG = 1e-9


class Side(Enum):
    inside = "inside"
    outside = "outside"
    partial = "partial"


@cache
def _edge_km(resolution: int) -> float:
    # Pentagons and distorted cells have edges up to ~2x the average: stay on the safe side.
    return 2.0 * float(h3.average_hexagon_edge_length(resolution, unit="km"))


def _bulge_deg(resolution: int, latitude: float) -> float:
    edge = _edge_km(resolution)
    tilt = math.tan(min(math.radians(abs(latitude)) + 0.1, math.radians(89.0)))
    return math.degrees(edge * edge * tilt / (8 * EARTH_RADIUS_KM * EARTH_RADIUS_KM)) + ROUNDING_DEG


def classify(cell: int, box: BBox) -> Side:
    vertices = h3i.cell_to_boundary(cell)
    lats = [v[0] for v in vertices]
    lons = [v[1] for v in vertices]
    if max(lons) - min(lons) > 180 or max(abs(x) for x in lats) > 85:
        return Side.partial
    margin = _bulge_deg(h3i.get_resolution(cell), max(abs(x) for x in lats))
    low_lat, high_lat = min(lats) - margin, max(lats) + margin
    low_lon, high_lon = min(lons) - ROUNDING_DEG, max(lons) + ROUNDING_DEG
    if high_lat < box.min_lat or low_lat > box.max_lat:
        return Side.outside
    if high_lon < box.min_lon or low_lon > box.max_lon:
        return Side.outside
    if (
        box.min_lat <= low_lat
        and high_lat <= box.max_lat
        and box.min_lon <= low_lon
        and high_lon <= box.max_lon
    ):
        return Side.inside
    return Side.partial


def children(cells: list[int], resolution: int) -> list[int]:
    return [child for cell in cells for child in h3i.cell_to_children(cell, resolution)]
