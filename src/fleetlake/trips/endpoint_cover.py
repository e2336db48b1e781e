"""Which cells of one endpoint lie inside a box, descending the per-endpoint rollups.

Level by level, from the coarsest, the cells holding trips are classified: inside ones are
kept whole, partial ones refined, outside ones dropped. What remains at the fine level is
partial: its trips need a point-by-point check. Only cells present in the rollup snapshot
are looked at, so the work follows the trips, not the size of the box.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from fleetlake.trips.cells import CELL_LEVELS, FINE_RESOLUTION, fine_range, in_sorted, parent_array
from fleetlake.trips.cover import Side
from fleetlake.trips.rollup_snapshot import RollupSnapshot, Week


@dataclass
class EndpointCover:
    """Cells wholly inside the box at every level (and their weekly counts), and the fine
    cells across its edge."""

    counts: Counter[Week] = field(default_factory=Counter)
    inside: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (level, cells)
    partial: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def inside_ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted, disjoint ranges of the fine cells wholly inside the box: the descendants
        of the inside cells of every level (partial fine cells are `partial`)."""
        parts = [fine_range(cells, level) for level, cells in self.inside if len(cells)]
        if not parts:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        lows = np.concatenate([low for low, _ in parts])
        highs = np.concatenate([high for _, high in parts])
        order = np.argsort(lows, kind="stable")
        return lows[order], highs[order]


def endpoint_cover(
    snapshot: RollupSnapshot, endpoint: str, side: Callable[[int], Side]
) -> EndpointCover:
    """`side` classifies a cell against the box (memoised by the caller: the pair descent
    asks about the same cells)."""
    cover = EndpointCover()
    # Candidates stay sorted and distinct (the snapshot's cells are), and so do their subsets.
    candidates = snapshot_cells(snapshot, endpoint, CELL_LEVELS[0])
    for index, level in enumerate(CELL_LEVELS):
        rollup = snapshot.cells.get((endpoint, level))
        if rollup is None or not len(candidates):
            return cover
        sides = [side(int(cell)) for cell in candidates]
        inside = candidates[np.array([s is Side.inside for s in sides], dtype=bool)]
        partial = candidates[np.array([s is Side.partial for s in sides], dtype=bool)]
        cover.counts.update(rollup.sum_by_week(inside))
        cover.inside.append((level, inside))
        if level == FINE_RESOLUTION:
            cover.partial = partial
            return cover
        present = snapshot_cells(snapshot, endpoint, CELL_LEVELS[index + 1])
        above = parent_array(present, level)
        candidates = present[in_sorted(above, partial)]
    return cover


def snapshot_cells(snapshot: RollupSnapshot, endpoint: str, level: int) -> np.ndarray:
    rollup = snapshot.cells.get((endpoint, level))
    return rollup.present if rollup is not None else np.empty(0, dtype=np.int64)
