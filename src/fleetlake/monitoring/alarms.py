"""A template's level from its sensors', an event at each change, a leak estimate on critical.

A template is critical when `agree_sensors` of its sensors are (all of them when it has
fewer): one sensor alone going critical raises a warning, which cuts false alarms from a
single faulty sensor. Each change is an event, stored and pushed on the `monitoring` stream
(SSE, WebSocket, signed webhooks) as `template.level_changed`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fleetlake.errors import InvalidParameter, NotFound
from fleetlake.monitoring import catalog
from fleetlake.monitoring.detection import fitted_baseline, saved_fits
from fleetlake.monitoring.leak import (
    CH4_KG_PER_NM3,
    Rise,
    estimate_leak,
    exchange_rate_per_h,
    sensor_rise_ppmv,
)
from fleetlake.monitoring.series import readings_between
from fleetlake.monitoring.settings import MonitoringSettings
from fleetlake.monitoring.tables import (
    monitoring_deviations,
    monitoring_events,
    monitoring_sensors,
)
from fleetlake.platform.db import iso_utc
from fleetlake.platform.jobs import append_stream_event
from fleetlake.platform.lake import Lake

STREAM = "monitoring"
RANK = {"ok": 0, "warning": 1, "critical": 2}
LEAD = timedelta(hours=1)  # readings before the alarm the leak fit sees (its start is fitted)


def sensor_levels(connection: Connection, *, template_id: int) -> dict[int, dict[str, Any]]:
    """Each sensor's latest deviation (its level now and since when); ok if none yet."""
    sensors = connection.execute(sa.select(monitoring_sensors.c.id).where(
        monitoring_sensors.c.template_id == template_id)).scalars().all()  # fmt: skip
    found: dict[int, dict[str, Any]] = {}
    table = monitoring_deviations
    for sensor_id in sensors:
        query = sa.select(table).where(table.c.sensor_id == sensor_id)
        last = connection.execute(query.order_by(table.c.start.desc()).limit(1)).mappings().first()
        found[sensor_id] = dict(last) if last else {"level": "ok", "start": None, "end": None}
    return found


def template_level(levels: dict[int, dict[str, Any]], *, agree: int) -> str:
    ranks = [RANK[v["level"]] for v in levels.values()]
    if not ranks:
        return "ok"
    if sum(r == 2 for r in ranks) >= min(agree, len(ranks)):
        return "critical"
    return "warning" if max(ranks) >= 1 else "ok"


def last_event_level(connection: Connection, *, template_id: int) -> str:
    table = monitoring_events
    query = sa.select(table.c.level).where(table.c.template_id == template_id)
    found = connection.execute(query.order_by(table.c.id.desc()).limit(1)).scalar()
    return found or "ok"


def update_template(
    engine: Engine, lake: Lake, *, template_id: int, settings: MonitoringSettings
) -> dict[str, Any] | None:
    """A new event if the template's level changed; its leak estimate when critical."""
    with engine.connect() as connection:
        levels = sensor_levels(connection, template_id=template_id)
        level = template_level(levels, agree=settings.agree_sensors)
        before = last_event_level(connection, template_id=template_id)
        template = catalog.template_row(connection, template_id=template_id)
    if level == before:
        return None
    raised = [s for s, v in levels.items() if RANK[v["level"]] >= max(RANK[level], 1)]
    starts = [v["start"] for v in levels.values() if v["start"] is not None]
    at = max(starts) if starts else datetime.now(UTC)
    leak = (
        leak_now(engine, lake, template=template, settings=settings)
        if level == "critical"
        else None
    )
    message = f"template {template['name']!r}: {before} → {level}" + (
        f" ({len(raised)} sensor{'s' * (len(raised) != 1)})" if raised else "")  # fmt: skip
    row = {"template_id": template_id, "type": "level_changed", "level": level,
           "message": message, "sensors": raised, "at": at, "leak": leak,
           "state": "open"}  # fmt: skip
    with engine.begin() as connection:
        event_id = connection.execute(monitoring_events.insert().values(**row).returning(
            monitoring_events.c.id)).scalar_one()  # fmt: skip
    event = {"id": int(event_id), **row, "at": iso_utc(at), "previous": before}
    append_stream_event(engine, stream=STREAM, type="template.level_changed", data=event)
    return event


def leak_now(
    engine: Engine, lake: Lake, *, template: dict[str, Any], settings: MonitoringSettings
) -> dict[str, Any] | None:
    """The leak fitted to every sensor of the template since shortly before its rise."""
    with engine.connect() as connection:
        sensors = connection.execute(sa.select(monitoring_sensors).where(
            monitoring_sensors.c.template_id == template["id"])).mappings().all()  # fmt: skip
        levels = sensor_levels(connection, template_id=template["id"])
        fits = saved_fits(connection, sensor_ids=[s["id"] for s in sensors])
    onsets = [v["start"] for v in levels.values() if v["level"] != "ok" and v["start"]]
    if not onsets:
        return None
    origin = min(onsets) - LEAD
    rises, noise = [], []
    for sensor in sensors:
        fitted = fitted_baseline(dict(sensor), lake, settings=settings,
                                 saved=fits.get(sensor["id"]))  # fmt: skip
        if fitted is None:
            continue
        table = readings_between(lake, sensor_id=sensor["id"], start=origin,
                                 end=origin + timedelta(days=30))  # fmt: skip
        stamps = table["ts"].to_numpy().astype("datetime64[us]").astype(np.int64) / 1e6
        hours = (stamps - origin.timestamp()) / 3600
        ppmv = table["ppmv"].to_numpy() - fitted.background_ppmv
        rises.append(Rise(sensor["id"], (sensor["x_m"], sensor["y_m"], sensor["z_m"]), hours, ppmv))
        noise.append(fitted.noise_ppmv)
    try:
        found = estimate_leak(rises, geometry=catalog.geometry_of(template),
                              physics=catalog.physics_of(settings),
                              noise_ppmv=float(np.median(noise)) if noise else 1.0)  # fmt: skip
    except ValueError:
        return None
    low, high = found.rate_kg_h_range
    return {
        "rate_kg_h": round(found.rate_kg_h, 4), "rate_kg_h_low": round(low, 4),
        "rate_kg_h_high": round(high, 4), "rate_nm3_h": round(found.rate_nm3_h, 4),
        "exchange_per_h": round(found.exchange_per_h, 5),
        "started_at": iso_utc(origin + timedelta(hours=found.start_h)),
        "source": dict(zip(("x_m", "y_m", "z_m"), (round(v, 2) for v in found.source_xyz),
                           strict=True)),
        "sensors": list(found.sensors), "residual_ppmv": round(found.residual_ppmv, 4),
    }  # fmt: skip


def templates_of(connection: Connection, sensor_ids: list[int]) -> list[int]:
    query = sa.select(monitoring_sensors.c.template_id).where(
        monitoring_sensors.c.id.in_(sensor_ids)
    )
    return sorted(set(connection.execute(query).scalars().all()))


def latest_leak(connection: Connection, *, template_id: int) -> dict[str, Any]:
    catalog.template_row(connection, template_id=template_id)
    table = monitoring_events
    query = (sa.select(table.c.leak).where(table.c.template_id == template_id)
             .where(table.c.leak.is_not(None)).order_by(table.c.id.desc()).limit(1))  # fmt: skip
    found = connection.execute(query).scalar()
    if not found:
        raise NotFound(f"no leak has been estimated for template {template_id}: one is, when "
                       "it goes critical", field="template_id")  # fmt: skip
    leak: dict[str, Any] = found
    return leak


def what_if(
    connection: Connection, *, template_id: int, rate_kg_h: float, source_xyz: tuple[float, ...],
    hours: float, every_s: float, settings: MonitoringSettings,
) -> dict[str, Any]:  # fmt: skip
    """What each sensor of the template would read above background under such a leak."""
    template = catalog.template_row(connection, template_id=template_id)
    for axis, value in zip(("x_m", "y_m", "z_m"), source_xyz, strict=True):
        side = catalog.SIDES[axis]
        if not 0 <= value <= template[side]:
            raise InvalidParameter(axis, f"{axis} {value:g} is outside the template (0 to "
                                   f"{side} {template[side]:g})")  # fmt: skip
    sensors = catalog.list_sensors(connection, template_id=template_id)
    geometry, physics = catalog.geometry_of(template), catalog.physics_of(settings)
    hours_since = np.arange(0.0, hours + 1e-9, every_s / 3600)
    xyz = np.array([[s["x_m"], s["y_m"], s["z_m"]] for s in sensors]).reshape(-1, 3)
    source = np.array(source_xyz)
    rate = rate_kg_h / CH4_KG_PER_NM3

    def seen(at_h: np.ndarray) -> np.ndarray:
        return sensor_rise_ppmv(at_h, xyz, rate_nm3_h=rate, source_xyz=source, start_h=0.0,
                                geometry=geometry, physics=physics)  # fmt: skip

    rises, steady = seen(hours_since), seen(np.array([1e6]))
    return {
        "template_id": template_id,
        "exchange_per_h": round(exchange_rate_per_h(geometry, physics), 6),
        "hours_since": [round(float(h), 6) for h in hours_since],
        "sensors": [{"sensor_id": s["id"], "name": s["name"],
                     "distance_m": round(float(np.linalg.norm(xyz[k] - source)), 3),
                     "steady_ppmv": _finite(float(steady[k, 0])),
                     "ppmv": [round(float(v), 4) for v in rises[k]]}
                    for k, s in enumerate(sensors)],
    }  # fmt: skip


def _finite(value: float) -> float | None:
    """None for what never settles (a closed template fills for ever)."""
    return round(value, 4) if np.isfinite(value) and value < 1e15 else None
