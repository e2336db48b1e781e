"""The lot's plan as one columnar record: every parked car's curve and target, where the plan
started it, its ready time and its power segments, in arrays (one entry a car; segments in
one table grouped by car). Stored as one blob on the lot row: a replan of 10,000 cars reads
and writes one value, not a row a car, and a reader caches it by the key it was stored with.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from fleetlake.charging import model
from fleetlake.charging.snapshot import TARGET_TOLERANCE_PCT

CURVE = ("capacity_kwh", "power_kw", "efficiency", "taper_start_pct", "slope")
# Per car: its curve, target and times (Unix s, nan: none), the measurement it was last read
# in from its row, where the plan started it, and what the plan says of it.
INPUTS = (*CURVE, "desired_pct", "departure_s", "plugged_at_s", "measured_kwh", "measured_at_s")
CAR_FIELDS = (*INPUTS, "soc_pct", "ready_s", "end_soc_pct")


@dataclass
class LotPlan:
    """One plan of the whole lot, made at `planned_at_s` with the lot's `version`."""

    version: int
    planned_at_s: float
    session_id: np.ndarray  # int64, one a car
    plates: list[str]
    cars: dict[str, np.ndarray]  # CAR_FIELDS → float64 arrays
    reaches_target: np.ndarray  # bool
    segments: np.ndarray  # (m, 4): start_s, end_s, cap_kw, soc % at start
    offsets: np.ndarray  # car i's segments are segments[offsets[i]:offsets[i + 1]]
    key: str = ""  # unique to the stored plan: a reader's cache is good while it matches
    site_limit_kw: float | None = None  # the limit it was planned under

    def __len__(self) -> int:
        return len(self.plates)

    @classmethod
    def empty(cls, *, version: int = 0, planned_at_s: float = 0.0) -> LotPlan:
        return cls(version, planned_at_s, np.zeros(0, np.int64), [],
                   {name: np.zeros(0) for name in CAR_FIELDS}, np.zeros(0, bool),
                   np.zeros((0, 4)), np.zeros(1, np.int64))  # fmt: skip

    @cached_property
    def index(self) -> dict[str, int]:
        return {plate: i for i, plate in enumerate(self.plates)}

    def find(self, plate: str) -> int | None:
        return self.index.get(plate)

    def curve(self, i: int) -> dict[str, float]:
        return {name: float(self.cars[name][i]) for name in CURVE}

    def snapshot(self, i: int) -> dict[str, Any]:
        """Car i as a status read needs it (what Redis holds per plate)."""
        cars = self.cars
        soc, capacity = float(cars["soc_pct"][i]), float(cars["capacity_kwh"][i])
        return {
            "plate": self.plates[i],
            "desired_pct": float(cars["desired_pct"][i]),
            "charge_kwh": soc * capacity / 100.0,
            "charge_at": self.planned_at_s,
            "plugged_at": float(cars["plugged_at_s"][i]),
            "departure": _seconds(cars["departure_s"][i]),
            "ready_at": _seconds(cars["ready_s"][i]),
            "reaches_target": bool(self.reaches_target[i]),
            "end_charge_kwh": float(cars["end_soc_pct"][i]) * capacity / 100.0,
            "segments": self.segments[self.offsets[i] : self.offsets[i + 1]].tolist(),
            "curve": self.curve(i),
        }

    def snapshots(self) -> list[dict[str, Any]]:
        return [self.snapshot(i) for i in range(len(self))]

    def soc_at(self, at_s: float) -> np.ndarray:
        """Every car's state of charge at `at_s`, following its segments (all cars at once)."""
        cars, segments, offsets = self.cars, self.segments, self.offsets
        started = np.concatenate(([0], np.cumsum(segments[:, 0] <= at_s)))
        count = started[offsets[1:]] - started[offsets[:-1]]
        has = offsets[1:] > offsets[:-1]
        row = np.where(count > 0, offsets[:-1] + count - 1, offsets[:-1])
        row = np.minimum(row, max(len(segments) - 1, 0))
        soc = cars["soc_pct"].copy()
        if not has.any():
            return soc
        seg = segments[row[has]]
        hours = np.clip(np.minimum(at_s, seg[:, 1]) - seg[:, 0], 0.0, None) / 3600.0
        curve = {name: cars[name][has] for name in CURVE}
        along = model.soc_after(seg[:, 3], hours, cap_kw=seg[:, 2], **curve)
        target = cars["desired_pct"][has]
        ready = cars["ready_s"][has] <= at_s  # nan compares False
        at_target = (np.abs(along - target) < TARGET_TOLERANCE_PCT) | ready
        soc[has] = np.where(at_target, np.maximum(along, target), along)
        return soc

    def to_bytes(self) -> bytes:
        """The plan as an Arrow IPC stream: a row a car, its segments a list column. A car's
        segments abut, so each end but its last is the next start and is not stored."""
        import pyarrow as pa

        starts, ends = self.segments[:, 0], self.segments[:, 1]
        last = self._last_segments()
        inner = np.ones(len(starts), dtype=bool)
        inner[last] = False
        if not np.array_equal(ends[:-1][inner[:-1]], starts[1:][inner[:-1]]):
            raise ValueError("a car's plan segments do not abut: the planner broke its promise")
        last_end = np.full(len(self), np.nan)
        last_end[self.offsets[1:] > self.offsets[:-1]] = ends[last]
        fields = [pa.array(self.segments[:, k]) for k in (0, 2, 3)]
        values = pa.StructArray.from_arrays(fields, names=["start_s", "cap_kw", "soc_pct"])
        columns = {"session_id": pa.array(self.session_id), "plate": pa.array(self.plates),
                   "reaches_target": pa.array(self.reaches_target),
                   **{name: pa.array(self.cars[name]) for name in CAR_FIELDS},
                   "last_end_s": pa.array(last_end),
                   "segments": pa.ListArray.from_arrays(pa.array(self.offsets, pa.int32()),
                                                        values)}  # fmt: skip
        limit = "" if self.site_limit_kw is None else repr(self.site_limit_kw)
        metadata = {"planned_at_s": repr(self.planned_at_s), "site_limit_kw": limit}
        table = pa.table(columns).replace_schema_metadata(metadata)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return bytes(sink.getvalue().to_pybytes())

    def _last_segments(self) -> np.ndarray:
        """Each car's last segment (cars with none left out)."""
        has = self.offsets[1:] > self.offsets[:-1]
        last: np.ndarray = self.offsets[1:][has] - 1
        return last

    @classmethod
    def from_bytes(cls, data: bytes, *, version: int) -> LotPlan:
        import pyarrow as pa

        table = pa.ipc.open_stream(data).read_all().combine_chunks()
        listed = table.column("segments").chunk(0) if len(table) else None
        offsets = np.zeros(1, np.int64)
        segments = np.empty((0, 4))
        if listed is not None:
            offsets = listed.offsets.to_numpy().astype(np.int64)
            segments = np.empty((offsets[-1], 4))
            for k, name in ((0, "start_s"), (2, "cap_kw"), (3, "soc_pct")):
                segments[:, k] = listed.values.field(name).to_numpy()
        found = cls(
            version=version,
            planned_at_s=float(table.schema.metadata[b"planned_at_s"]),
            session_id=table.column("session_id").to_numpy(),
            plates=table.column("plate").to_pylist(),
            cars={name: table.column(name).to_numpy() for name in CAR_FIELDS},
            reaches_target=table.column("reaches_target").to_numpy(),
            segments=segments,
            offsets=offsets,
            site_limit_kw=_limit(table.schema.metadata.get(b"site_limit_kw", b"")),
        )
        segments[:-1, 1] = segments[1:, 0]
        last_end = table.column("last_end_s").to_numpy()
        segments[found._last_segments(), 1] = last_end[offsets[1:] > offsets[:-1]]
        return found


def _limit(stored: bytes) -> float | None:
    return float(stored) if stored else None


def _seconds(value: float) -> float | None:
    return None if np.isnan(value) else float(value)
