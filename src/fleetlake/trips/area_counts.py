"""Exact weekly trip counts in a lon/lat box, from the cell rollups plus a boundary check.

Cells wholly inside the box are counted from `trip_cell_weeks` (or `trip_pair_weeks` for
`both`) at the coarsest level that fits; cells across the edge are refined level by level
(only those holding trips), and at the finest level the trips in them are checked point by
point in the lake with DuckDB. `either` is origin + destination - both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fleetlake.platform.lake import Lake
from fleetlake.trips.areas import BBox, Match
from fleetlake.trips.cells import (
    CELL_LEVELS,
    FINE_RESOLUTION,
    PAIR_LEVELS,
    parent_array,
    parent_duckdb,
    parent_int,
)
from fleetlake.trips.cover import Side, children, classify
from fleetlake.trips.models import trip_cell_weeks, trip_files, trip_pair_weeks
from fleetlake.trips.points import count_weeks, published_have_points
from fleetlake.trips.rollups import bronze_dir

Week = tuple[int, int]
IN_LIST = 5000  # values per IN list: well under SQLite's bound-parameter limit
COLUMNS = {
    "o": ("origin_cell", "origin_lon", "origin_lat"),
    "d": ("destination_cell", "destination_lon", "destination_lat"),
}


@dataclass
class ExactCheck:
    """Trips in boundary cells to test point by point.

    Read from the cell-sorted point files (`endpoint`, key `ranges`, `keep`), or, for files
    published before those existed, by DuckDB over bronze (`where` with its lookup `tables`).
    """

    where: str
    tables: dict[str, pa.Table]
    endpoint: str
    ranges: tuple[np.ndarray, np.ndarray]
    keep: Callable[[pa.Table], pa.Array]


def area_week_counts(
    connection: Connection,
    lake: Lake,
    *,
    bbox: BBox,
    match: Match,
    start: date | None = None,
    end: date | None = None,
) -> Counter[Week]:
    if start or end:
        return _exact_scan(connection, lake, bbox=bbox, match=match, start=start, end=end)
    parts: list[tuple[int, Counter[Week], ExactCheck | None]] = []
    if match in (Match.origin, Match.either):
        parts.append((1, *_endpoint_counts(connection, bbox, "o")))
    if match in (Match.destination, Match.either):
        parts.append((1, *_endpoint_counts(connection, bbox, "d")))
    if match in (Match.both, Match.either):  # either = origin + destination - both
        parts.append((-1 if match is Match.either else 1, *_both_counts(connection, bbox)))
    checks = [check for _, _, check in parts if check is not None]
    exact = iter(_run_checks(connection, lake, checks))
    total: Counter[Week] = Counter()
    for sign, counts, check in parts:
        found = counts + (next(exact) if check is not None else Counter())
        for week, n in found.items():
            total[week] += sign * n
    return +total


def _one_of(
    connection: Connection, column: sa.ColumnElement[Any], values: list[int]
) -> sa.ColumnElement[bool]:
    """`column IN values`; on PostgreSQL one array parameter (`= ANY`), cheap to send and plan."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == sa.any_(sa.bindparam(None, values, type_=ARRAY(sa.BigInteger)))
    return column.in_(values)


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for index in range(0, len(values), IN_LIST):
        yield values[index : index + IN_LIST]


def _endpoint_counts(
    connection: Connection, bbox: BBox, endpoint: str
) -> tuple[Counter[Week], ExactCheck | None]:
    t = trip_cell_weeks
    counts: Counter[Week] = Counter()
    level_index, candidates = 0, _cells_with_trips(connection, endpoint, CELL_LEVELS[0], None)
    while candidates:
        level = CELL_LEVELS[level_index]
        sides = {cell: classify(cell, bbox) for cell in candidates}
        inside = [c for c, s in sides.items() if s is Side.inside]
        partial = [c for c, s in sides.items() if s is Side.partial]
        for cells in _chunks(inside):
            rows = connection.execute(
                sa.select(t.c.iso_year, t.c.iso_week, sa.func.sum(t.c.trips))
                .where(
                    t.c.endpoint == endpoint,
                    t.c.resolution == level,
                    _one_of(connection, t.c.cell, cells),
                )
                .group_by(t.c.iso_year, t.c.iso_week)
            )
            counts.update({(int(y), int(w)): int(n) for y, w, n in rows})
        if level == FINE_RESOLUTION:
            return counts, _endpoint_check(bbox, endpoint, partial)
        level_index += 1
        next_level = CELL_LEVELS[level_index]
        candidates = _cells_with_trips(
            connection, endpoint, next_level, children(partial, next_level)
        )
    return counts, None


def _cells_with_trips(
    connection: Connection, endpoint: str, level: int, among: list[int] | None
) -> list[int]:
    t = trip_cell_weeks
    query = sa.select(t.c.cell).distinct().where(t.c.endpoint == endpoint, t.c.resolution == level)
    if among is None:
        return [int(c) for c in connection.execute(query).scalars()]
    found: list[int] = []
    for cells in _chunks(among):
        found.extend(int(c) for c in connection.execute(query.where(t.c.cell.in_(cells))).scalars())
    return found


def _both_counts(connection: Connection, bbox: BBox) -> tuple[Counter[Week], ExactCheck | None]:
    side_of: dict[int, Side] = {}

    def side(cell: int) -> Side:
        if cell not in side_of:
            side_of[cell] = classify(cell, bbox)
        return side_of[cell]

    counts: Counter[Week] = Counter()
    level_index, candidates = 0, _pairs_with_trips(connection, PAIR_LEVELS[0], None, None)
    while candidates:
        level = PAIR_LEVELS[level_index]
        inside: list[tuple[int, int]] = []
        partial: list[tuple[int, int]] = []
        for pair in candidates:
            sides = (side(pair[0]), side(pair[1]))
            if Side.outside in sides:
                continue
            (inside if sides == (Side.inside, Side.inside) else partial).append(pair)
        for pairs in _chunks(inside):
            counts.update(_pair_sums(connection, level, pairs))
        if level_index == len(PAIR_LEVELS) - 1:
            return counts, _pairs_check(bbox, level, partial)
        level_index += 1
        next_level = PAIR_LEVELS[level_index]
        wanted = set(partial)
        found = _pairs_with_trips(
            connection,
            next_level,
            children(sorted({p[0] for p in partial}), next_level),
            children(sorted({p[1] for p in partial}), next_level),
        )
        candidates = [
            p for p in found if (parent_int(p[0], level), parent_int(p[1], level)) in wanted
        ]
    return counts, None


def _pair_sums(connection: Connection, level: int, pairs: list[tuple[int, int]]) -> Counter[Week]:
    t = trip_pair_weeks
    query = sa.select(t.c.iso_year, t.c.iso_week, sa.func.sum(t.c.trips)).where(
        t.c.resolution == level
    )
    if connection.dialect.name == "postgresql":
        # A VALUES join, not a row-value IN list: PostgreSQL then probes the primary key.
        keys = sa.values(
            sa.column("o", sa.BigInteger), sa.column("d", sa.BigInteger), name="wanted"
        ).data(pairs)
        on = sa.and_(t.c.origin_cell == keys.c.o, t.c.destination_cell == keys.c.d)
        query = query.select_from(t.join(keys, on))
    else:
        query = query.where(sa.tuple_(t.c.origin_cell, t.c.destination_cell).in_(pairs))
    rows = connection.execute(query.group_by(t.c.iso_year, t.c.iso_week))
    return Counter({(int(y), int(w)): int(n) for y, w, n in rows})


def _pairs_with_trips(
    connection: Connection, level: int, origins: list[int] | None, destinations: list[int] | None
) -> list[tuple[int, int]]:
    t = trip_pair_weeks
    query = (
        sa.select(t.c.origin_cell, t.c.destination_cell).distinct().where(t.c.resolution == level)
    )
    if origins is None or destinations is None:
        return [(int(o), int(d)) for o, d in connection.execute(query)]
    found: list[tuple[int, int]] = []
    for chunk in _chunks(origins):
        rows = connection.execute(query.where(_one_of(connection, t.c.origin_cell, chunk)))
        wanted = set(destinations)
        found.extend((int(o), int(d)) for o, d in rows if d in wanted)
    return found


def _published_shas(connection: Connection) -> list[str]:
    query = sa.select(trip_files.c.sha256).where(trip_files.c.published_at.is_not(None))
    return [str(sha) for sha in connection.execute(query).scalars()]


def _bronze_files(lake: Lake, shas: list[str]) -> list[str]:
    return [path for sha in shas for path in lake.list_files(*bronze_dir(sha))]


def _box_sql(bbox: BBox, lon: str, lat: str) -> str:
    return (
        f"{lon} BETWEEN {bbox.min_lon!r} AND {bbox.max_lon!r} "
        f"AND {lat} BETWEEN {bbox.min_lat!r} AND {bbox.max_lat!r}"
    )


def _run_checks(
    connection: Connection, lake: Lake, checks: list[ExactCheck]
) -> list[Counter[Week]]:
    """All boundary checks of one query: from the sorted point files where every published
    file has them, else in one DuckDB pass over bronze."""
    if not checks:
        return []
    shas = _published_shas(connection)
    if published_have_points(lake, shas):
        return [
            count_weeks(
                lake,
                shas=shas,
                endpoint=c.endpoint,
                lows=c.ranges[0],
                highs=c.ranges[1],
                keep=c.keep,
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


def _box_keep(bbox: BBox, lon: str, lat: str) -> Callable[[pa.Table], pa.Array]:
    def keep(table: pa.Table) -> pa.Array:
        return pc.and_(
            pc.and_(
                pc.greater_equal(table[lon], bbox.min_lon), pc.less_equal(table[lon], bbox.max_lon)
            ),
            pc.and_(
                pc.greater_equal(table[lat], bbox.min_lat), pc.less_equal(table[lat], bbox.max_lat)
            ),
        )

    return keep


def _endpoint_check(bbox: BBox, endpoint: str, cells: list[int]) -> ExactCheck | None:
    if not cells:
        return None
    cell, lon, lat = COLUMNS[endpoint]
    name = f"boundary_{endpoint}"
    ordered = np.array(sorted(cells), dtype=np.int64)
    return ExactCheck(
        where=f"{cell} IN (SELECT cell FROM {name}) AND {_box_sql(bbox, lon, lat)}",
        tables={name: pa.table({"cell": pa.array(cells, pa.int64())})},
        endpoint=endpoint,
        ranges=(ordered, ordered),
        keep=_box_keep(bbox, lon, lat),
    )


def _pairs_check(bbox: BBox, level: int, pairs: list[tuple[int, int]]) -> ExactCheck | None:
    if not pairs:
        return None
    table = pa.table(
        {
            "o": pa.array([p[0] for p in pairs], pa.int64()),
            "d": pa.array([p[1] for p in pairs], pa.int64()),
        }
    )
    keys = f"({parent_duckdb('origin_cell', level)}, {parent_duckdb('destination_cell', level)})"
    # The fine cells under one coarse cell are one contiguous run of h3 indexes.
    origins = sorted({p[0] for p in pairs})
    lows = np.array([min(children([o], FINE_RESOLUTION)) for o in origins], dtype=np.int64)
    highs = np.array([max(children([o], FINE_RESOLUTION)) for o in origins], dtype=np.int64)
    wanted = np.array(sorted(pairs), dtype=np.int64)
    in_origin = _box_keep(bbox, "origin_lon", "origin_lat")
    in_destination = _box_keep(bbox, "destination_lon", "destination_lat")

    def keep(points: pa.Table) -> pa.Array:
        found = np.stack(
            [
                parent_array(points["origin_cell"].to_numpy(), level),
                parent_array(points["destination_cell"].to_numpy(), level),
            ],
            axis=1,
        )
        known = np.isin(_as_rows(found), _as_rows(wanted))
        return pc.and_(pa.array(known), pc.and_(in_origin(points), in_destination(points)))

    return ExactCheck(
        where=(
            f"{keys} IN (SELECT (o, d) FROM boundary_pairs) "
            f"AND {_box_sql(bbox, 'origin_lon', 'origin_lat')} "
            f"AND {_box_sql(bbox, 'destination_lon', 'destination_lat')}"
        ),
        tables={"boundary_pairs": table},
        endpoint="o",
        ranges=(lows, highs),
        keep=keep,
    )


def _as_rows(pairs: np.ndarray) -> np.ndarray:
    """Two int64 columns as one comparable value per row (for np.isin)."""
    contiguous = np.ascontiguousarray(pairs, dtype=np.int64)
    return contiguous.view(np.dtype((np.void, 16))).ravel()


def _exact_scan(
    connection: Connection,
    lake: Lake,
    *,
    bbox: BBox,
    match: Match,
    start: date | None,
    end: date | None,
) -> Counter[Week]:
    """Date ranges cut weeks: every published trip is checked (slow path, always exact)."""
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
    rows = _duckdb_rows(lake, _bronze_files(lake, _published_shas(connection)), sql, {})
    return Counter({(int(y), int(w)): int(n) for y, w, n in rows})
