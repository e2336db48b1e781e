"""Exact weekly trip counts in a lon/lat box, from the cell rollups plus a boundary check.

Cells wholly inside the box are counted from `trip_cell_weeks` (or `trip_pair_weeks` for
`both`) at the coarsest level that fits; cells across the edge are refined level by level
(only those holding trips, from an in-process snapshot of the rollups), and at the finest
level the trips in them are checked point by point in the cell-sorted point files (DuckDB
over bronze for files published before those existed). `either` is origin + destination -
both.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy.engine import Connection

from fleetlake.platform.lake import Lake
from fleetlake.trips.areas import BBox, Match
from fleetlake.trips.cells import (
    PAIR_LEVELS,
    fine_range,
    in_sorted,
    intersect_ranges,
    membership,
    pair_key,
    parent_array,
    parent_duckdb,
)
from fleetlake.trips.cover import Side, classify
from fleetlake.trips.endpoint_cover import EndpointCover, endpoint_cover
from fleetlake.trips.points import Selection, count_weeks, published_have_points
from fleetlake.trips.rollup_snapshot import RollupSnapshot, published_shas, rollup_snapshot
from fleetlake.trips.rollups import bronze_dir

Week = tuple[int, int]
Ranges = tuple[np.ndarray, np.ndarray]
Keep = Callable[[Selection], np.ndarray]
COLUMNS = {
    "o": ("origin_cell", "origin_lon", "origin_lat"),
    "d": ("destination_cell", "destination_lon", "destination_lat"),
}


@dataclass
class ExactCheck:
    """Trips in boundary cells to test point by point.

    Read from the cell-sorted point files of `endpoint`, as `parts`: sort-key ranges and
    the test of their trips (cells wholly inside the box need no test of that end). For
    files published before those existed, by DuckDB over bronze (`where` with its lookup
    `tables`).
    """

    where: str
    tables: dict[str, pa.Table]
    endpoint: str
    parts: list[tuple[Ranges, Keep]]


def area_week_counts(
    connection: Connection,
    lake: Lake,
    *,
    bbox: BBox,
    match: Match,
    start: date | None = None,
    end: date | None = None,
) -> Counter[Week]:
    if not _whole_weeks(start, end):
        return _exact_scan(connection, lake, bbox=bbox, match=match, start=start, end=end)
    counts = _rollup_week_counts(connection, lake, bbox=bbox, match=match)
    first = start.isocalendar()[:2] if start else None
    last = end.isocalendar()[:2] if end else None
    return Counter(
        {
            week: n
            for week, n in counts.items()
            if (first is None or week >= first) and (last is None or week <= last)
        }
    )


def _whole_weeks(start: date | None, end: date | None) -> bool:
    """A window of whole ISO weeks (Monday to Sunday) is answered from the weekly rollups."""
    return (start is None or start.isoweekday() == 1) and (end is None or end.isoweekday() == 7)


def _rollup_week_counts(
    connection: Connection, lake: Lake, *, bbox: BBox, match: Match
) -> Counter[Week]:
    snapshot = rollup_snapshot(connection)
    side = functools.cache(functools.partial(classify, box=bbox))  # cells recur across descents
    sides = {Match.origin: "o", Match.destination: "d"}.get(match, "od")
    covers = {endpoint: endpoint_cover(snapshot, endpoint, side) for endpoint in sides}
    parts: list[tuple[int, Counter[Week], list[ExactCheck]]] = []
    if match is not Match.both:
        for endpoint, cover in covers.items():
            parts.append((1, cover.counts, _endpoint_checks(bbox, endpoint, cover.partial)))
    if match in (Match.both, Match.either):  # either = origin + destination - both
        sign = -1 if match is Match.either else 1
        parts.append((sign, *_both_counts(snapshot, bbox, covers, side)))
    every = [c for _, _, checks in parts for c in checks]
    exact = iter(_run_checks(lake, snapshot.shas, every))
    total: Counter[Week] = Counter()
    for sign, counts, checks in parts:
        for found in [counts, *(next(exact) for _ in checks)]:
            for week, n in found.items():
                total[week] += sign * n
    return +total


def _both_counts(
    snapshot: RollupSnapshot,
    bbox: BBox,
    covers: dict[str, EndpointCover],
    side: Callable[[int], Side],
) -> tuple[Counter[Week], list[ExactCheck]]:
    counts: Counter[Week] = Counter()
    counted: list[tuple[int, np.ndarray]] = []  # (level, keys of the pairs counted whole)
    wanted: np.ndarray | None = None  # pair keys of the partial pairs of the level above
    for index, level in enumerate(PAIR_LEVELS):
        rollup = snapshot.pairs.get(level)
        if rollup is None:
            return counts, []
        candidates = np.arange(len(rollup.origins))
        if wanted is not None:
            above = pair_key(rollup.origins, rollup.destinations, PAIR_LEVELS[index - 1])
            candidates = np.flatnonzero(in_sorted(above, wanted))
        origin_side = _side_codes(rollup.origins[candidates], side)
        destination_side = _side_codes(rollup.destinations[candidates], side)
        touching = (origin_side != OUTSIDE) & (destination_side != OUTSIDE)
        whole = touching & (origin_side == INSIDE) & (destination_side == INSIDE)
        inside, partial = candidates[whole], candidates[touching & ~whole]
        keys = rollup.rows.present  # pair keys, aligned with origins and destinations
        counted.append((level, np.unique(keys[inside])))
        counts.update(rollup.rows.sum_by_week(counted[-1][1]))
        pairs = np.stack([rollup.origins[partial], rollup.destinations[partial]], axis=1)
        if index == len(PAIR_LEVELS) - 1 or not len(partial):
            return counts, _pairs_checks(bbox, level, pairs, side, covers, counted[:-1])
        wanted = np.unique(keys[partial])
    return counts, []


INSIDE, OUTSIDE, PARTIAL = 0, 1, 2
SIDE_CODES = {Side.inside: INSIDE, Side.outside: OUTSIDE, Side.partial: PARTIAL}


def _side_codes(cells: np.ndarray, side: Callable[[int], Side]) -> np.ndarray:
    """Each cell's side of the box as a code, classifying every distinct cell once."""
    distinct, position = np.unique(cells, return_inverse=True)
    codes = np.array([SIDE_CODES[side(int(cell))] for cell in distinct], dtype=np.int8)
    return codes[position]


def _bronze_files(lake: Lake, shas: list[str]) -> list[str]:
    return [path for sha in shas for path in lake.list_files(*bronze_dir(sha))]


def _box_sql(bbox: BBox, lon: str, lat: str) -> str:
    return (
        f"{lon} BETWEEN {bbox.min_lon!r} AND {bbox.max_lon!r} "
        f"AND {lat} BETWEEN {bbox.min_lat!r} AND {bbox.max_lat!r}"
    )


def _run_checks(lake: Lake, shas: list[str], checks: list[ExactCheck]) -> list[Counter[Week]]:
    """All boundary checks of one query over the files `shas`: from the sorted point files
    where every one has them, else in one DuckDB pass over bronze."""
    if not checks:
        return []
    if published_have_points(lake, shas):
        return [
            sum(
                (
                    count_weeks(
                        lake, shas=shas, endpoint=c.endpoint, lows=lows, highs=highs, keep=k
                    )
                    for (lows, highs), k in c.parts
                ),
                Counter(),
            )
            for c in checks
        ]
    counts = ", ".join(f"count(*) FILTER (WHERE {c.where}) AS c{i}" for i, c in enumerate(checks))
    tables = {name: table for check in checks for name, table in check.tables.items()}
    sql = f"SELECT iso_year, iso_week, {counts} FROM points GROUP BY ALL"
    rows = _duckdb_rows(lake, _bronze_files(lake, shas), sql, tables)
    found: list[Counter[Week]] = [Counter() for _ in checks]
    for year, week, *per_check in rows:
        for index, n in enumerate(per_check):
            if n:
                found[index][(int(year), int(week))] += int(n)
    return found


def _duckdb_rows(
    lake: Lake, files: list[str], sql: str, tables: dict[str, pa.Table]
) -> list[tuple[Any, ...]]:
    """Run `sql` over bronze `files` (view `points`); our own SQL only."""
    import duckdb

    if not files:
        return []
    db = duckdb.connect()
    db.execute("SET threads = 2")
    if not lake.is_local:
        db.register_filesystem(lake.fs)
    for name, table in tables.items():
        db.register(name, table)
    db.read_parquet(lake.duckdb_paths(files)).create_view("points")
    rows = db.sql(sql).fetchall()
    db.close()
    return rows


def _box_keep(bbox: BBox, lon: str, lat: str) -> Keep:
    def keep(points: Selection) -> np.ndarray:
        x, y = points[lon], points[lat]
        inside: np.ndarray = (
            (x >= bbox.min_lon) & (x <= bbox.max_lon) & (y >= bbox.min_lat) & (y <= bbox.max_lat)
        )
        return inside

    return keep


def _endpoint_checks(bbox: BBox, endpoint: str, ordered: np.ndarray) -> list[ExactCheck]:
    if not len(ordered):
        return []
    cell, lon, lat = COLUMNS[endpoint]
    name = f"boundary_{endpoint}"
    check = ExactCheck(
        where=f"{cell} IN (SELECT cell FROM {name}) AND {_box_sql(bbox, lon, lat)}",
        tables={name: pa.table({"cell": ordered})},
        endpoint=endpoint,
        parts=[((ordered, ordered), _box_keep(bbox, lon, lat))],
    )
    return [check]


def _pairs_checks(
    bbox: BBox,
    level: int,
    pairs: np.ndarray,
    side: Callable[[int], Side],
    covers: dict[str, EndpointCover],
    counted: list[tuple[int, np.ndarray]],
) -> list[ExactCheck]:
    """Boundary pairs, each read from the point file sorted by one of its partial cells:
    by origin when the origin cell is partial, else by destination. Boundary cells hold
    far fewer trips than inner ones, and no pair is read twice."""
    by_origin = _side_codes(pairs[:, 0], side) == PARTIAL
    partial_origins = np.unique(pairs[by_origin, 0])
    checks = []
    for endpoint, mine in (("o", pairs[by_origin]), ("d", pairs[~by_origin])):
        if len(mine):
            others = partial_origins if endpoint == "d" else np.empty(0, dtype=np.int64)
            checks.append(
                _pair_check(bbox, level, mine, endpoint, covers[endpoint], counted, others, side)
            )
    return checks


def _pair_check(
    bbox: BBox,
    level: int,
    pairs: np.ndarray,
    endpoint: str,
    cover: EndpointCover,
    counted: list[tuple[int, np.ndarray]],
    others: np.ndarray,
    side: Callable[[int], Side],
) -> ExactCheck:
    """A trip read here with both ends in the box is in one of `pairs` unless its pair was
    counted whole at a coarser level, or its origin cell is partial (then it is the origin
    check's): two tests on small sets instead of a lookup of every trip's pair."""
    key = 0 if endpoint == "o" else 1
    # Only the fine cells of those pairs' cells that can hold an endpoint in the box.
    cells = np.unique(pairs[:, key])
    mine = fine_range(cells, level)
    in_origin = _box_keep(bbox, "origin_lon", "origin_lat")
    in_destination = _box_keep(bbox, "destination_lon", "destination_lat")
    own, other = (in_origin, in_destination) if endpoint == "o" else (in_destination, in_origin)

    # A pair counted whole at a coarser level has both cells inside there: only levels
    # where an ancestor of these cells is inside can hold trips to drop.
    coarser = [
        (above, membership(keys))  # prepared once: the test runs on every batch read
        for above, keys in counted
        if len(keys) and (_side_codes(parent_array(cells, above), side) == INSIDE).any()
    ]
    in_others = membership(others)

    def drop_counted(points: Selection, passed: np.ndarray) -> np.ndarray:
        if not coarser and not len(others):
            return passed
        origins = points.compress(passed, "origin_cell")
        dropped = np.zeros(len(origins), dtype=bool)
        if coarser:
            destinations = points.compress(passed, "destination_cell")
            for above, counted_whole in coarser:
                dropped |= counted_whole(pair_key(origins, destinations, above))
        if len(others):
            dropped |= in_others(parent_array(origins, level))
        passed[passed] = ~dropped
        return passed

    def keep_inside(points: Selection) -> np.ndarray:  # this end's fine cell is inside
        return drop_counted(points, other(points))

    def keep_partial(points: Selection) -> np.ndarray:
        return drop_counted(points, own(points) & other(points))

    parts: list[tuple[Ranges, Keep]] = [
        (intersect_ranges(mine, cover.inside_ranges()), keep_inside),
        (intersect_ranges(mine, (cover.partial, cover.partial)), keep_partial),
    ]
    name = f"boundary_pairs_{endpoint}"
    keys = f"({parent_duckdb('origin_cell', level)}, {parent_duckdb('destination_cell', level)})"
    return ExactCheck(
        where=(
            f"{keys} IN (SELECT (o, d) FROM {name}) "
            f"AND {_box_sql(bbox, 'origin_lon', 'origin_lat')} "
            f"AND {_box_sql(bbox, 'destination_lon', 'destination_lat')}"
        ),
        tables={name: pa.table({"o": pairs[:, 0], "d": pairs[:, 1]})},
        endpoint=endpoint,
        parts=parts,
    )


def _exact_scan(
    connection: Connection,
    lake: Lake,
    *,
    bbox: BBox,
    match: Match,
    start: date | None,
    end: date | None,
) -> Counter[Week]:
    """Date ranges that cut weeks: every published trip is checked (slow, always exact)."""
    origin = _box_sql(bbox, "origin_lon", "origin_lat")
    destination = _box_sql(bbox, "destination_lon", "destination_lat")
    area = {
        Match.origin: origin,
        Match.destination: destination,
        Match.both: f"({origin}) AND ({destination})",
        Match.either: f"({origin}) OR ({destination})",
    }[match]
    where = f"({area})"
    if start:
        where += f" AND datetime >= TIMESTAMPTZ '{start.isoformat()} 00:00:00+00'"
    if end:
        where += f" AND datetime < TIMESTAMPTZ '{end.isoformat()} 00:00:00+00' + INTERVAL 1 DAY"
    sql = f"SELECT iso_year, iso_week, count(*) FROM points WHERE {where} GROUP BY ALL"
    rows = _duckdb_rows(lake, _bronze_files(lake, published_shas(connection)), sql, {})
    return Counter({(int(y), int(w)): int(n) for y, w, n in rows})
