"""The cover's classification must never call a cell inside (or outside) the box when one of
the trips it stands for is not (or is): rollup counts of inside cells are taken as exact."""

from __future__ import annotations

import h3
from h3.api import basic_int as h3i
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetlake.trips.areas import BBox
from fleetlake.trips.cells import FINE_RESOLUTION, parent_int
from fleetlake.trips.cover import Side, classify


def _in(box: BBox, lat: float, lon: float) -> bool:
    return box.min_lon <= lon <= box.max_lon and box.min_lat <= lat <= box.max_lat


def _ancestor(lat: float, lon: float, resolution: int) -> int:
    """The rollup cell of a trip endpoint: its fine cell's parent by h3 digits."""
    return parent_int(h3i.latlng_to_cell(lat, lon, FINE_RESOLUTION), resolution)


def _polygon_box(cell: int, grow: float = 0.0) -> BBox:
    """The box around the cell's own polygon, widened by `grow` times its size each side."""
    vertices = h3i.cell_to_boundary(cell)
    lats, lons = [v[0] for v in vertices], [v[1] for v in vertices]
    dlat, dlon = grow * (max(lats) - min(lats)), grow * (max(lons) - min(lons))
    return BBox(min(lons) - dlon, min(lats) - dlat, max(lons) + dlon, max(lats) + dlat)


def test_a_fine_cell_can_lie_outside_its_ancestor_and_is_not_counted_inside() -> None:
    """h3 children overhang their parent: a trip outside the box drawn around its res-7
    ancestor's polygon (even widened by 2 %) exists; that ancestor must not be inside."""
    found = 0
    for i in range(200):
        for j in range(200):
            lat, lon = 45.0 + i * 0.0005, 7.6 + j * 0.0005
            cell = _ancestor(lat, lon, 7)
            box = _polygon_box(cell, grow=0.02)
            if not _in(box, lat, lon):
                found += 1
                assert classify(cell, box) is not Side.inside, (lat, lon, h3.int_to_str(cell))
    assert found > 0  # the grid does contain such overhanging trips


@settings(max_examples=400, deadline=None)
@given(
    lat=st.floats(-75, 75),
    lon=st.floats(-179, 179),
    resolution=st.sampled_from([1, 3, 5, 7, 9]),
    grow=st.tuples(*[st.floats(-0.3, 0.3)] * 4),
)
def test_classification_agrees_with_every_trip_of_the_cell(
    lat: float, lon: float, resolution: int, grow: tuple[float, float, float, float]
) -> None:
    cell = _ancestor(lat, lon, resolution)
    base = _polygon_box(cell)
    width, height = base.max_lon - base.min_lon, base.max_lat - base.min_lat
    box = BBox(
        base.min_lon + grow[0] * width,
        base.min_lat + grow[1] * height,
        max(base.max_lon + grow[2] * width, base.min_lon + grow[0] * width),
        max(base.max_lat + grow[3] * height, base.min_lat + grow[1] * height),
    )
    side = classify(cell, box)
    if side is Side.inside:
        assert _in(box, lat, lon)
    if side is Side.outside:
        assert not _in(box, lat, lon)
