"""Every sensor kept scored: its new silver readings through its detector, levels stored as
deviation intervals, the detector's state saved so a restart goes on where it stopped.

A sensor is scored once its baseline is complete (its own range, or its first
`baseline_days`). Its window follows from its sampling period (the baseline's median step).
A baseline is fitted once per process and range; a new range (`PUT …/baseline`) starts the
detector afresh. A round scores its sensors on two threads and stores them in one
transaction; a sensor's scorer stays in memory between rounds (no resume from its state).
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
    fit_key: str = ""  # the range and settings it was fitted for (`fit_key_of`)

    def saved(self) -> dict[str, Any]:
        """Kept with the detector state, so a restart rebuilds it without the self-join."""
        return self.baseline.stats() | {"key": self.fit_key,
                                        "background_ppmv": self.background_ppmv,
                                        "noise_ppmv": self.noise_ppmv}  # fmt: skip

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
# (lake, sensor) → (baseline key, scored until, its scorer): a round goes on from memory when
# the stored state is the one it left; otherwise (another process scored) from the state.
_scorers: dict[tuple[str, int], tuple[str, datetime, SensorScorer]] = {}


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


def fit_key_of(start: datetime, end: datetime, settings: MonitoringSettings) -> str:
    """What a fit depends on besides the readings: its range and the settings it used."""
    return (f"{iso_utc(start)}/{iso_utc(end)}/d{settings.despike_readings}"
            f"/w{settings.window_minutes}/s{settings.min_spread_ppmv}")  # fmt: skip


def fitted_baseline(
    sensor: dict[str, Any],
    lake: Lake,
    *,
    settings: MonitoringSettings,
    saved: dict[str, Any] | None = None,
) -> Fitted | None:
    """The sensor's baseline, fitted; None while it is not complete yet. `saved` (a fit's
    `saved()`, from the detector state) is used when it is for the same range and settings."""
    found = baseline_range(sensor, lake, settings=settings)
    latest = sensor["last_reading_at"]
    if found is None or latest is None or latest < found[1]:
        return None
    start, end = found
    fit_key = fit_key_of(start, end, settings)
    key = (lake.root, sensor["id"], fit_key)
    if key not in _fitted:
        reuse = saved if saved is not None and saved.get("key") == fit_key else None
        _fitted[key] = _fit(sensor, lake, start=start, end=end, settings=settings, saved=reuse)
    return _fitted[key]


def _fit(sensor: dict[str, Any], lake: Lake, *, start: datetime, end: datetime,
         settings: MonitoringSettings, saved: dict[str, Any] | None) -> Fitted:  # fmt: skip
    table = readings_between(lake, sensor_id=sensor["id"], start=start, end=end)
    values = table["ppmv"].to_numpy()
    fit_key = fit_key_of(start, end, settings)
    stamps = table["ts"].to_numpy().astype("datetime64[us]").astype(np.int64) / 1e6
    period = float(np.median(np.diff(stamps))) if len(stamps) > 1 else 60.0
    m = settings.window_for(period)
    if saved is not None and int(saved["m"]) == m:
        baseline = Baseline.restored(values, saved)
        return Fitted(baseline, start, end, float(saved["background_ppmv"]),
                      float(saved["noise_ppmv"]), fit_key)  # fmt: skip
    baseline = Baseline.fit(values, m=m, min_spread=settings.min_spread_ppmv,
                            despike=settings.despike_readings)  # fmt: skip
    noise = float(np.std(np.diff(values)) / np.sqrt(2))
    return Fitted(baseline, start, end, float(values.mean()), max(noise, 1e-6), fit_key)


def saved_fits(connection: Connection, *, sensor_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each sensor's fit as kept with its detector state (those that have one)."""
    table = monitoring_detector_state
    rows = connection.execute(sa.select(table.c.sensor_id, table.c.state).where(
        table.c.sensor_id.in_(sensor_ids)))  # fmt: skip
    return {r.sensor_id: r.state["fit"] for r in rows if "fit" in (r.state or {})}


@dataclass
class Pending:
    """A sensor scored in memory, to be stored with the round's others."""

    sensor: dict[str, Any]
    fresh: bool
    key: str
    found: list[Deviation]
    scorer: SensorScorer
    until: datetime
    readings: int
    level: str
    fit: dict[str, Any]


def score_sensors(
    engine: Engine, lake: Lake, *, sensor_ids: list[int], settings: MonitoringSettings,
    threads: int = 2,
) -> list[Scored]:  # fmt: skip
    """Score what each sensor landed since it was last scored, on `threads` threads (the
    kernel releases the GIL), and store them all in one transaction."""
    from concurrent.futures import ThreadPoolExecutor

    with engine.connect() as connection:
        sensors = connection.execute(sa.select(monitoring_sensors).where(
            monitoring_sensors.c.id.in_(sensor_ids))).mappings().all()  # fmt: skip
        table = monitoring_detector_state
        states = {r["sensor_id"]: dict(r) for r in connection.execute(
            sa.select(table).where(table.c.sensor_id.in_(sensor_ids))).mappings()}  # fmt: skip
    # Fitted here, one at a time: stumpy's parallel kernels must not run on two threads.
    work: list[tuple[dict[str, Any], dict[str, Any] | None, Fitted]] = []
    for sensor in map(dict, sensors):
        saved = (states.get(sensor["id"]) or {}).get("state", {}).get("fit")
        fitted = fitted_baseline(sensor, lake, settings=settings, saved=saved)
        if fitted is not None:
            work.append((sensor, states.get(sensor["id"]), fitted))
    thresholds = thresholds_of(settings)

    def one(item: tuple[dict[str, Any], dict[str, Any] | None, Fitted]) -> Pending | None:
        return _scored(item[0], item[1], item[2], lake, thresholds)

    with ThreadPoolExecutor(max(threads, 1)) as pool:
        pending = [p for p in pool.map(one, work) if p is not None]
    try:
        with engine.begin() as connection:
            for p in pending:
                store_deviations(connection, p.sensor["id"], p.found)
                state = p.scorer.state() | {"baseline": p.key, "fit": p.fit}
                save_state(connection, p.sensor["id"], until=p.until, state=state, fresh=p.fresh)
    except Exception:  # not stored: the scorers moved on in memory, so forget them
        for p in pending:
            _scorers.pop((lake.root, p.sensor["id"]), None)
        raise
    for p in pending:  # stored: the next round may go on from memory
        _scorers[(lake.root, p.sensor["id"])] = (p.key, p.until, p.scorer)
    return [Scored(p.sensor["id"], p.sensor["template_id"], p.readings, p.level, p.until)
            for p in pending]  # fmt: skip


def _scored(sensor: dict[str, Any], state: dict[str, Any] | None, fitted: Fitted, lake: Lake,
            thresholds: Thresholds) -> Pending | None:  # fmt: skip
    same = state is not None and state["state"].get("baseline") == fitted.key
    since = state["scored_until"] if same and state is not None else fitted.end - TICK
    table = readings_between(lake, sensor_id=sensor["id"], start=since + TICK, end=since + FAR)
    if table.num_rows == 0:
        return None
    kept = _scorers.get((lake.root, sensor["id"]))
    if same and kept is not None and kept[0] == fitted.key and kept[1] == since:
        scorer = kept[2]  # its dot products at hand: no resume
    else:
        saved = state["state"] if same and state is not None else None
        scorer = SensorScorer.resume(fitted.baseline, thresholds, saved)
    scores, levels = scorer.push(table["ppmv"].to_numpy())
    times = table["ts"].to_pylist()
    return Pending(sensor, state is None, fitted.key, intervals(times, levels, scores), scorer,
                   times[-1], table.num_rows, LEVELS[int(levels[-1])],
                   fitted.saved())  # fmt: skip


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
