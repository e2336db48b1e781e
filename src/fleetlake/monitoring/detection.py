"""Every sensor kept scored: its new silver readings through its detector, levels stored as
deviation intervals, the detector's state saved so a restart goes on where it stopped.

A sensor is scored once its baseline is complete (its own range, or its first
`baseline_days`). Its window follows from its sampling period (the baseline's median step).
A baseline is fitted once per process and range; a new range (`PUT …/baseline`) starts the
detector afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fleetlake.monitoring.detector import (
    LEVELS,
    Baseline,
    Deviation,
    SensorScorer,
    Thresholds,
    intervals,
)
from fleetlake.monitoring.series import first_reading_at, readings_between
from fleetlake.monitoring.settings import MonitoringSettings
from fleetlake.monitoring.tables import (
    monitoring_detector_state,
    monitoring_deviations,
    monitoring_sensors,
)
from fleetlake.platform.db import iso_utc
from fleetlake.platform.lake import Lake

TICK = timedelta(microseconds=1)
FAR = timedelta(days=36500)


@dataclass(frozen=True)
class Fitted:
    baseline: Baseline
    start: datetime
    end: datetime
    background_ppmv: float  # the baseline's mean: what a rise is measured from
    noise_ppmv: float  # reading-to-reading noise

    @property
    def key(self) -> str:
        b = self.baseline
        return f"{iso_utc(self.start)}/{iso_utc(self.end)}/{b.m}" + (
            f"/d{b.despike}" if b.despike > 1 else "")  # fmt: skip


@dataclass(frozen=True)
class Scored:
    sensor_id: int
    template_id: int
    readings: int
    level: str
    until: datetime


_fitted: dict[tuple[str, int, str], Fitted] = {}  # (lake, sensor, range) → its fit, per process
# A sensor's first reading never moves (older ones are refused as out of order): read once.
_first: dict[tuple[str, int], datetime] = {}


def thresholds_of(settings: MonitoringSettings) -> Thresholds:
    return Thresholds(settings.warning_spreads, settings.critical_spreads, settings.clear_ratio,
                      settings.clear_after)  # fmt: skip


def baseline_range(
    sensor: dict[str, Any], lake: Lake, *, settings: MonitoringSettings
) -> tuple[datetime, datetime] | None:
    if sensor["baseline_start"] is not None:
        return sensor["baseline_start"], sensor["baseline_end"]
    key = (lake.root, sensor["id"])
    first = _first.get(key) or first_reading_at(lake, sensor_id=sensor["id"])
    if first is None:
        return None
    _first[key] = first
    return first, first + timedelta(days=settings.baseline_days)


def fitted_baseline(
    sensor: dict[str, Any], lake: Lake, *, settings: MonitoringSettings
) -> Fitted | None:
    """The sensor's baseline, fitted; None while it is not complete yet."""
    found = baseline_range(sensor, lake, settings=settings)
    latest = sensor["last_reading_at"]
    if found is None or latest is None or latest < found[1]:
        return None
    start, end = found
    key = (lake.root, sensor["id"], f"{iso_utc(start)}/{iso_utc(end)}/{settings.despike_readings}")
    if key not in _fitted:
        table = readings_between(lake, sensor_id=sensor["id"], start=start, end=end)
        values = table["ppmv"].to_numpy()
        stamps = table["ts"].to_numpy().astype("datetime64[us]").astype(np.int64) / 1e6
        period = float(np.median(np.diff(stamps))) if len(stamps) > 1 else 60.0
        m = settings.window_for(period)
        baseline = Baseline.fit(values, m=m, min_spread=settings.min_spread_ppmv,
                                despike=settings.despike_readings)  # fmt: skip
        noise = float(np.std(np.diff(values)) / np.sqrt(2))
        _fitted[key] = Fitted(baseline, start, end, float(values.mean()), max(noise, 1e-6))
    return _fitted[key]


def score_sensor(
    engine: Engine, lake: Lake, *, sensor_id: int, settings: MonitoringSettings
) -> Scored | None:
    """Score what the sensor landed since it was last scored; None when nothing to do."""
    with engine.connect() as connection:
        sensor = dict(connection.execute(sa.select(monitoring_sensors).where(
            monitoring_sensors.c.id == sensor_id)).mappings().one())  # fmt: skip
        state = connection.execute(sa.select(monitoring_detector_state).where(
            monitoring_detector_state.c.sensor_id == sensor_id)).mappings().first()  # fmt: skip
    fitted = fitted_baseline(sensor, lake, settings=settings)
    if fitted is None:
        return None
    same = state is not None and state["state"].get("baseline") == fitted.key
    since = state["scored_until"] if same and state is not None else fitted.end - TICK
    table = readings_between(lake, sensor_id=sensor_id, start=since + TICK, end=since + FAR)
    if table.num_rows == 0:
        return None
    saved = state["state"] if same and state is not None else None
    scorer = SensorScorer.resume(fitted.baseline, thresholds_of(settings), saved)
    scores, levels = scorer.push(table["ppmv"].to_numpy())
    times = table["ts"].to_pylist()
    with engine.begin() as connection:
        store_deviations(connection, sensor_id, intervals(times, levels, scores))
        save_state(connection, sensor_id, until=times[-1], state=scorer.state() | {
            "baseline": fitted.key}, fresh=state is None)  # fmt: skip
    level = LEVELS[int(levels[-1])]
    return Scored(sensor_id, sensor["template_id"], table.num_rows, level, times[-1])


def store_deviations(connection: Connection, sensor_id: int, found: list[Deviation]) -> None:
    """Append the intervals; the first extends the sensor's last one when at the same level."""
    table = monitoring_deviations
    query = sa.select(table).where(table.c.sensor_id == sensor_id)
    last = connection.execute(query.order_by(table.c.start.desc()).limit(1)).mappings().first()
    if found and last is not None and last["level"] == found[0].level:
        head = found.pop(0)
        connection.execute(table.update().where(table.c.id == last["id"]).values(
            end=head.end, score=max(last["score"], head.score)))  # fmt: skip
    if found:
        connection.execute(table.insert(), [{"sensor_id": sensor_id, "start": d.start,
                                             "end": d.end, "level": d.level, "score": d.score}
                                            for d in found])  # fmt: skip


def save_state(connection: Connection, sensor_id: int, *, until: datetime,
               state: dict[str, Any], fresh: bool) -> None:  # fmt: skip
    table = monitoring_detector_state
    values = {"scored_until": until, "state": state, "updated_at": datetime.now(UTC)}
    if fresh:
        connection.execute(table.insert().values(sensor_id=sensor_id, **values))
    else:
        connection.execute(table.update().where(table.c.sensor_id == sensor_id).values(**values))


def deviations_between(
    connection: Connection, *, sensor_id: int, start: datetime | None, end: datetime | None
) -> list[dict[str, Any]]:
    """The sensor's intervals overlapping [start, end), oldest first."""
    table = monitoring_deviations
    query = sa.select(table).where(table.c.sensor_id == sensor_id).order_by(table.c.start)
    if start is not None:
        query = query.where(table.c.end >= start)
    if end is not None:
        query = query.where(table.c.start < end)
    rows = connection.execute(query).mappings()
    return [{"start": iso_utc(r["start"]), "end": iso_utc(r["end"]), "level": r["level"],
             "score": round(r["score"], 3)} for r in rows]  # fmt: skip
