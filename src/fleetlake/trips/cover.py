"""Which h3 cells are wholly inside, wholly outside or across the edge of a lon/lat box.

Classification is conservative, so that rollup counts of "inside" cells are exact: a cell's
vertex extent is widened by the most a great-circle edge can bow away from its vertices in
latitude (s²·tan φ / 8R for an edge of length s at latitude φ) plus a hair for rounding.
Longitude along a short great-circle edge is monotonic and needs no widening. Anything in
doubt (antimeridian or polar cells included) is "partial" and gets refined or checked exactly.

A coarse cell stands for the trips whose fine cell descends from it, and h3 children are not
inside their parent's polygon (aperture 7 overhangs a little at each level). So a coarse
cell's extent is also widened by the most its fine descendants can overhang it.
"""

from __future__ import annotations

import math
from enum import Enum
from functools import cache, lru_cache

import h3
from h3.api import basic_int as h3i

from fleetlake.trips.areas import BBox
from fleetlake.trips.cells import FINE_RESOLUTION

EARTH_RADIUS_KM = 6371.0
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180
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


@cache
def overhang_km(resolution: int) -> float:
    """How far the fine descendants of a cell can reach beyond its polygon: at each finer
    level a child overhangs by less than its diameter (twice a generous edge)."""
    return sum(2 * _edge_km(level) for level in range(resolution + 1, FINE_RESOLUTION + 1))


Extent = tuple[float, float, float, float]  # low lat, high lat, low lon, high lon


@lru_cache(maxsize=1 << 17)  # ~20 MB; a cell's extent never changes, boxes come and go
def cell_extent(cell: int) -> Extent | None:
    """The widened lat/lon extent that holds every fine descendant's trips, or None when in
    doubt (antimeridian or polar cells)."""
    vertices = h3i.cell_to_boundary(cell)
    lats = [v[0] for v in vertices]
    lons = [v[1] for v in vertices]
    polar = max(abs(x) for x in lats)
    if max(lons) - min(lons) > 180 or polar > 80:
        return None
    resolution = h3i.get_resolution(cell)
    overhang_lat = overhang_km(resolution) / KM_PER_DEGREE
    overhang_lon = overhang_lat / math.cos(math.radians(min(polar + overhang_lat, 89.0)))
    margin = _bulge_deg(resolution, polar) + overhang_lat
    return (
        min(lats) - margin,
        max(lats) + margin,
        min(lons) - overhang_lon - ROUNDING_DEG,
        max(lons) + overhang_lon + ROUNDING_DEG,
    )


def classify(cell: int, box: BBox) -> Side:
    extent = cell_extent(cell)
    if extent is None:
        return Side.partial
    low_lat, high_lat, low_lon, high_lon = extent
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
