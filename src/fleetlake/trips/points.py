"""Trip endpoints sorted by h3 cell, one file per published file and endpoint.

Bbox queries check the trips of boundary cells point by point. The files are uncompressed
Arrow IPC, memory-mapped: a check binary-searches the sorted cell column of each record
batch and touches only the rows of the boundary cells (no decoding, no scan), so its cost
is the number of trips in those cells, not the size of the table.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from fleetlake.platform.lake import Lake, temporary_path

BATCH_ROWS = 1 << 20
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
Columns = dict[str, np.ndarray]


def points_path(lake: Lake, sha256: str, endpoint: str) -> str:
    return lake.path("gold", "trips", "points", f"endpoint={endpoint}", f"file={sha256[:16]}.arrow")


def write_points(lake: Lake, *, sha256: str, bronze_files: list[str]) -> None:
    """Both sorted copies of a file's trips; written whole (temp file, then rename)."""
    db = lake.duckdb(memory_limit_mb=512)  # the sort spills past it: memory stays bounded
    db.read_parquet(lake.duckdb_paths(bronze_files)).create_view("chunk")
    for endpoint, key in SORT_KEY.items():
        target = points_path(lake, sha256, endpoint)
        lake.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        temp = temporary_path(target.rsplit("/", 1)[0])
        query = db.sql(f"SELECT {', '.join(COLUMNS)} FROM chunk ORDER BY {key}")
        batches = query.to_arrow_reader(BATCH_ROWS)
        with lake.fs.open(temp, "wb") as sink, pa.ipc.new_file(sink, batches.schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
        lake.fs.mv(temp, target)
    db.close()


def remove_points(lake: Lake, *, sha256: str) -> None:
    for endpoint in SORT_KEY:
        path = points_path(lake, sha256, endpoint)
        if lake.fs.exists(path):
            lake.fs.rm(path)


@dataclass
class PointFile:
    """The record batches of one point file as numpy views, with each batch's key bounds."""

    batches: list[Columns]
    first: np.ndarray
    last: np.ndarray


_open: dict[str, tuple[float, PointFile]] = {}  # path -> (file version, mapped file)
_open_lock = threading.Lock()


def _point_file(lake: Lake, path: str, key: str) -> PointFile:
    stamp = float(lake.fs.modified(path).timestamp()) if lake.is_local else 0.0
    with _open_lock:
        cached = _open.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    if lake.is_local:
        source = pa.memory_map(path)  # pages are read on first touch and shared by processes
    else:
        with lake.fs.open(path, "rb") as handle:
            source = pa.BufferReader(handle.read())
    reader = pa.ipc.open_file(source)
    batches = []
    for index in range(reader.num_record_batches):
        batch = reader.get_batch(index)
        batches.append({name: batch[name].to_numpy(zero_copy_only=True) for name in COLUMNS})
    mapped = PointFile(
        batches,
        np.array([b[key][0] for b in batches], dtype=np.int64),
        np.array([b[key][-1] for b in batches], dtype=np.int64),
    )
    with _open_lock:
        _open[path] = (stamp, mapped)  # a rewritten file replaces its old entry
    return mapped


def _forget_others(endpoint: str, *, keep: set[str]) -> None:
    """Drop mapped files no longer published (a mapping keeps a deleted file's disk space)."""
    with _open_lock:
        for path in [p for p in _open if f"endpoint={endpoint}" in p and p not in keep]:
            del _open[path]


def count_weeks(
    lake: Lake,
    *,
    shas: list[str],
    endpoint: str,
    lows: np.ndarray,
    highs: np.ndarray,
    keep: Callable[[Selection], np.ndarray],
) -> Counter[Week]:
    """Weekly counts of the trips whose sort-key cell lies in one of the sorted, disjoint
    ranges [lows[i], highs[i]] and for which `keep` is true."""
    counts: Counter[Week] = Counter()
    if not len(lows):
        return counts
    key = SORT_KEY[endpoint]
    paths = [points_path(lake, sha, endpoint) for sha in shas]
    _forget_others(endpoint, keep=set(paths))
    for path in paths:
        points = _point_file(lake, path, key)
        for index in np.flatnonzero((points.first <= highs[-1]) & (points.last >= lows[0])):
            selected = _rows_in_ranges(points.batches[int(index)], key, lows, highs)
            if selected is None:
                continue
            kept = keep(selected)
            years = selected.compress(kept, "iso_year").astype(np.int32)
            weeks = years * 100 + selected.compress(kept, "iso_week")
            if not len(weeks):
                continue
            first = int(weeks.min())  # weeks span a few hundred numbers: a count, not a sort
            tally = np.bincount(weeks - first)
            for offset in np.flatnonzero(tally):
                week = first + int(offset)
                counts[(week // 100, week % 100)] += int(tally[offset])
    return counts


class Selection:
    """The rows of a key-sorted batch inside some spans, each column gathered only when a
    check asks for it: most checks read three or four of the eight columns."""

    def __init__(self, batch: Columns, starts: np.ndarray, ends: np.ndarray) -> None:
        self._batch = batch
        self._spans = list(zip(starts.tolist(), ends.tolist(), strict=True))
        self._gathered: Columns = {}
        self._positions: np.ndarray | None = None

    def __getitem__(self, name: str) -> np.ndarray:
        column = self._gathered.get(name)
        if column is None:
            source = self._batch[name]
            if len(self._spans) == 1:  # one span is a view, not a copy
                ((start, end),) = self._spans
                column = source[start:end]
            else:
                column = np.concatenate([source[s:e] for s, e in self._spans])
            self._gathered[name] = column
        return column

    def compress(self, kept: np.ndarray, name: str) -> np.ndarray:
        """`name` of the kept rows, read straight from the batch when not gathered yet."""
        if name in self._gathered or len(self._spans) == 1:  # a copy made or none needed
            # np.compress gathers several times faster than boolean indexing here.
            return np.compress(kept, self[name])
        if self._positions is None:
            self._positions = np.concatenate([np.arange(s, e) for s, e in self._spans])
        return np.take(self._batch[name], np.compress(kept, self._positions))


def _rows_in_ranges(
    batch: Columns, key: str, lows: np.ndarray, highs: np.ndarray
) -> Selection | None:
    """The rows of a key-sorted batch whose key falls in the ranges."""
    cells = batch[key]
    # Only the ranges that overlap this batch's keys: most lie wholly in other batches.
    lo = int(np.searchsorted(highs, cells[0], side="left"))
    hi = int(np.searchsorted(lows, cells[-1], side="right"))
    lows, highs = lows[lo:hi], highs[lo:hi]
    starts = np.searchsorted(cells, lows, side="left")
    ends = np.searchsorted(cells, highs, side="right")
    hit = ends > starts
    starts, ends = starts[hit], ends[hit]
    if not len(starts):
        return None
    # Ranges next to each other in the file make one span.
    first = np.concatenate([[True], starts[1:] != ends[:-1]])
    last = np.concatenate([first[1:], [True]])
    return Selection(batch, starts[first], ends[last])


def published_have_points(lake: Lake, shas: list[str]) -> bool:
    return all(lake.fs.exists(points_path(lake, sha, "o")) for sha in shas)
