"""Trip endpoints sorted by h3 cell, one file per published file and endpoint.

Bbox queries check the trips of boundary cells point by point. Sorted by resolution-9 cell
with small row groups, those trips sit in a few row groups whose [min, max] cell range we
keep in memory, so a check reads only them (DuckDB did not prune row groups for IN lists).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections import Counter
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fleetlake.platform.lake import Lake

ROW_GROUP = 16_384
COLUMNS = [
    "origin_cell",
    "destination_cell",
    "origin_lon",
    "origin_lat",
    "destination_lon",
    "destination_lat",
    "iso_year",
    "iso_week",
]
SORT_KEY = {"o": "origin_cell", "d": "destination_cell"}
Week = tuple[int, int]


def points_path(lake: Lake, sha256: str, endpoint: str) -> str:
    return lake.path(
        "gold", "trips", "points", f"endpoint={endpoint}", f"file={sha256[:16]}.parquet"
    )


def write_points(lake: Lake, *, sha256: str, bronze_files: list[str]) -> None:
    """Both sorted copies of a file's trips; written whole (temp file, then rename)."""
    import duckdb

    db = duckdb.connect()
    db.execute("SET threads = 2; SET memory_limit = '1GB'; SET preserve_insertion_order = false")
    if not lake.is_local:
        db.register_filesystem(lake.fs)
    db.read_parquet(lake.duckdb_paths(bronze_files)).create_view("chunk")
    for endpoint, key in SORT_KEY.items():
        target = points_path(lake, sha256, endpoint)
        lake.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        temp = target if not lake.is_local else f"{target}.tmp-{uuid.uuid4().hex}"
        db.execute(
            f"COPY (SELECT {', '.join(COLUMNS)} FROM chunk ORDER BY {key}) TO "
            f"'{lake.duckdb_paths([temp])[0]}' (FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUP}, "
            "COMPRESSION zstd)"
        )
        if lake.is_local:
            os.replace(temp, target)
    db.close()


def remove_points(lake: Lake, *, sha256: str) -> None:
    for endpoint in SORT_KEY:
        path = points_path(lake, sha256, endpoint)
        if lake.fs.exists(path):
            lake.fs.rm(path)


_ranges: dict[str, tuple[float, np.ndarray]] = {}  # path -> (file version, bounds)
_ranges_lock = threading.Lock()


def _row_group_ranges(lake: Lake, path: str, column: str) -> np.ndarray:
    """[[min, max], ...] of `column` per row group, cached per file version."""
    stamp = float(lake.fs.modified(path).timestamp()) if lake.is_local else 0.0
    with _ranges_lock:
        cached = _ranges.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    with lake.fs.open(path, "rb") as handle:
        metadata = pq.ParquetFile(handle).metadata
    index = metadata.schema.names.index(column)
    bounds = np.array(
        [
            [
                metadata.row_group(i).column(index).statistics.min,
                metadata.row_group(i).column(index).statistics.max,
            ]
            for i in range(metadata.num_row_groups)
        ],
        dtype=np.int64,
    ).reshape(-1, 2)
    with _ranges_lock:
        _ranges[path] = (stamp, bounds)  # a rewritten file replaces its old entry
    return bounds


def count_weeks(
    lake: Lake,
    *,
    shas: list[str],
    endpoint: str,
    lows: np.ndarray,
    highs: np.ndarray,
    keep: Callable[[pa.Table], pa.Array],
) -> Counter[Week]:
    """Weekly counts of the trips whose sort-key cell lies in one of the sorted, disjoint
    ranges [lows[i], highs[i]] and for which `keep` is true."""
    counts: Counter[Week] = Counter()
    key = SORT_KEY[endpoint]
    for sha in shas:
        path = points_path(lake, sha, endpoint)
        bounds = _row_group_ranges(lake, path, key)
        # Needed: row groups that some range [low, high] overlaps (ranges sorted, disjoint).
        first = np.searchsorted(highs, bounds[:, 0], side="left")
        wanted = [i for i, j in enumerate(first) if j < len(lows) and lows[j] <= bounds[i, 1]]
        if not wanted:
            continue
        with lake.fs.open(path, "rb") as handle:
            table = pq.ParquetFile(handle).read_row_groups(wanted, columns=COLUMNS)
        cells = table[key].to_numpy()
        slot = np.searchsorted(lows, cells, side="right") - 1
        in_range = (slot >= 0) & (cells <= highs[np.clip(slot, 0, None)])
        mask = pc.and_(pa.array(in_range), keep(table))
        selected = table.filter(mask)
        for row in (
            selected.group_by(["iso_year", "iso_week"])
            .aggregate([("iso_week", "count")])
            .to_pylist()
        ):
            counts[(int(row["iso_year"]), int(row["iso_week"]))] += int(row["iso_week_count"])
    return counts


def published_have_points(lake: Lake, shas: list[str]) -> bool:
    return all(lake.fs.exists(points_path(lake, sha, "o")) for sha in shas)
