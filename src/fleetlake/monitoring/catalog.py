"""The monitored model: platforms → templates (geometry) → sensors (positions).

Creation checks what a schema cannot: the parent exists, names are unique under it, a
sensor sits inside its template, per-face values agree in number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fleetlake.errors import Conflict, InvalidParameter, NotFound
from fleetlake.monitoring.leak import Geometry, Physics, exchange_rate_per_h
from fleetlake.monitoring.settings import MonitoringSettings
from fleetlake.monitoring.tables import (
    monitoring_platforms,
    monitoring_sensors,
    monitoring_templates,
)
from fleetlake.platform.db import iso_utc

SIDES = {"x_m": "length_m", "y_m": "width_m", "z_m": "height_m"}


def create_platform(
    connection: Connection, *, name: str, description: str | None, now: datetime
) -> dict[str, Any]:
    _unique(connection, monitoring_platforms, {"name": name}, what=f"platform {name!r}")
    row = {"name": name, "description": description, "created_at": now}
    return get_platform(connection, platform_id=_insert(connection, monitoring_platforms, row))


def get_platform(connection: Connection, *, platform_id: int) -> dict[str, Any]:
    row = _one(connection, monitoring_platforms, platform_id, what="platform")
    return platform_view(row)


def list_platforms(connection: Connection) -> list[dict[str, Any]]:
    query = sa.select(monitoring_platforms).order_by(monitoring_platforms.c.id)
    return [platform_view(dict(r)) for r in connection.execute(query).mappings()]


def create_template(
    connection: Connection,
    *,
    values: dict[str, Any],
    settings: MonitoringSettings,
    now: datetime,
) -> dict[str, Any]:
    _one(
        connection,
        monitoring_platforms,
        values["platform_id"],
        what="platform",
        field="platform_id",
    )
    porosity, walls = _faces(values["porosity"]), _faces(values["wall_area_m2"])
    if len(porosity) > 1 and len(walls) > 1 and len(porosity) != len(walls):
        raise InvalidParameter(
            "porosity",
            f"porosity has {len(porosity)} faces and "
            f"wall_area_m2 {len(walls)}: give one value or one per face",
        )
    key = {"platform_id": values["platform_id"], "name": values["name"]}
    _unique(connection, monitoring_templates, key, what=f"template {values['name']!r}")
    new_id = _insert(connection, monitoring_templates, {**values, "created_at": now})
    return get_template(connection, template_id=new_id, settings=settings)


def template_row(connection: Connection, *, template_id: int) -> dict[str, Any]:
    return _one(connection, monitoring_templates, template_id, what="template")


def get_template(
    connection: Connection, *, template_id: int, settings: MonitoringSettings
) -> dict[str, Any]:
    return template_view(
        _one(connection, monitoring_templates, template_id, what="template"), settings=settings
    )


def list_templates(
    connection: Connection, *, settings: MonitoringSettings, platform_id: int | None = None
) -> list[dict[str, Any]]:
    query = sa.select(monitoring_templates).order_by(monitoring_templates.c.id)
    if platform_id is not None:
        query = query.where(monitoring_templates.c.platform_id == platform_id)
    return [template_view(dict(r), settings=settings) for r in connection.execute(query).mappings()]


def create_sensor(
    connection: Connection, *, values: dict[str, Any], now: datetime
) -> dict[str, Any]:
    template = _one(
        connection,
        monitoring_templates,
        values["template_id"],
        what="template",
        field="template_id",
    )
    for axis, side in SIDES.items():
        if not 0 <= values[axis] <= template[side]:
            raise InvalidParameter(
                axis,
                f"{axis} {values[axis]:g} is outside the template "
                f"(0 to {side} {template[side]:g}): give a position inside it",
            )
    key = {"template_id": values["template_id"], "name": values["name"]}
    _unique(connection, monitoring_sensors, key, what=f"sensor {values['name']!r}")
    if values.get("source_id") is not None:
        _unique(
            connection,
            monitoring_sensors,
            {"source_id": values["source_id"]},
            what=f"source_id {values['source_id']!r}",
            field="source_id",
        )
    new_id = _insert(connection, monitoring_sensors, {**values, "created_at": now})
    return get_sensor(connection, sensor_id=new_id)


def get_sensor(connection: Connection, *, sensor_id: int) -> dict[str, Any]:
    return sensor_view(sensor_row(connection, sensor_id=sensor_id))


def sensor_row(connection: Connection, *, sensor_id: int) -> dict[str, Any]:
    return _one(connection, monitoring_sensors, sensor_id, what="sensor")


def list_sensors(connection: Connection, *, template_id: int | None = None) -> list[dict[str, Any]]:
    query = sa.select(monitoring_sensors).order_by(monitoring_sensors.c.id)
    if template_id is not None:
        query = query.where(monitoring_sensors.c.template_id == template_id)
    return [sensor_view(dict(r)) for r in connection.execute(query).mappings()]


def geometry_of(template: dict[str, Any]) -> Geometry:
    return Geometry(
        template["internal_volume_m3"],
        template["length_m"],
        template["width_m"],
        template["height_m"],
        porosity=_faces(template["porosity"]),
        wall_area_m2=_faces(template["wall_area_m2"]),
    )


def physics_of(settings: MonitoringSettings) -> Physics:
    return Physics(
        settings.exchange_velocity_m_h, settings.near_gain, settings.near_length_fraction
    )


def platform_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "created_at": iso_utc(row["created_at"]),
    }


def template_view(row: dict[str, Any], *, settings: MonitoringSettings) -> dict[str, Any]:
    exchange = exchange_rate_per_h(geometry_of(row), physics_of(settings))
    return {
        **{k: v for k, v in row.items() if k != "created_at"},
        "exchange_per_h": round(exchange, 6),
        "created_at": iso_utc(row["created_at"]),
    }


def sensor_view(row: dict[str, Any]) -> dict[str, Any]:
    baseline = None
    if row["baseline_start"] is not None:
        baseline = {"start": iso_utc(row["baseline_start"]), "end": iso_utc(row["baseline_end"])}
    keep = ("id", "template_id", "name", "source_id", "x_m", "y_m", "z_m")
    return {
        **{k: row[k] for k in keep},
        "baseline": baseline,
        "last_reading_at": iso_utc(row["last_reading_at"]) if row["last_reading_at"] else None,
        "readings": row["readings"],
        "created_at": iso_utc(row["created_at"]),
    }


def _insert(connection: Connection, table: sa.Table, row: dict[str, Any]) -> int:
    """Insert one row; its id."""
    return int(connection.execute(table.insert().values(**row).returning(table.c.id)).scalar_one())


def _faces(value: float | list[float]) -> tuple[float, ...]:
    return tuple(value) if isinstance(value, list) else (float(value),)


def _one(
    connection: Connection, table: sa.Table, row_id: int, *, what: str, field: str = "id"
) -> dict[str, Any]:
    row = connection.execute(sa.select(table).where(table.c.id == row_id)).mappings().first()
    if row is None:
        raise NotFound(
            f"no {what} has id {row_id}: list them with GET /api/v1/monitoring/{what}s", field=field
        )
    return dict(row)


def _unique(connection: Connection, table: sa.Table, key: dict[str, Any], *, what: str,
            field: str = "name") -> None:  # fmt: skip
    found = _named(connection, table, key)
    if found is not None:
        raise Conflict(f"{what} exists already (id {found}): choose another name", field=field,
                       id=found)  # fmt: skip


def set_baseline(
    connection: Connection, *, sensor_id: int, start: datetime, end: datetime
) -> dict[str, Any]:
    """A new baseline range; the detector starts afresh against it."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidParameter("start", "give start and end with a zone (or Z for UTC)")
    if end <= start:
        raise InvalidParameter("end", f"end {iso_utc(end)} is not after start {iso_utc(start)}")
    sensor_row(connection, sensor_id=sensor_id)
    connection.execute(monitoring_sensors.update().where(monitoring_sensors.c.id == sensor_id)
                       .values(baseline_start=start, baseline_end=end))  # fmt: skip
    return get_sensor(connection, sensor_id=sensor_id)


def load_model(
    connection: Connection, *, model: dict[str, Any], settings: MonitoringSettings, now: datetime
) -> dict[str, int]:
    """Platforms → templates → sensors from one document (`fleetlake simulate monitoring`'s
    model.json); what exists already (by name) is kept. Counts of what was created."""
    from fleetlake.monitoring.schemas import PlatformIn, SensorIn, TemplateIn

    created = {"platforms": 0, "templates": 0, "sensors": 0}
    for platform in model.get("platforms", []):
        given = PlatformIn.model_validate({k: platform.get(k) for k in ("name", "description")})
        found = _named(connection, monitoring_platforms, {"name": given.name})
        if found is None:
            found = create_platform(connection, name=given.name, description=given.description,
                                    now=now)["id"]  # fmt: skip
            created["platforms"] += 1
        for template in platform.get("templates", []):
            body = {k: v for k, v in template.items() if k != "sensors"} | {"platform_id": found}
            values = TemplateIn.model_validate(body).model_dump()
            template_id = _named(connection, monitoring_templates,
                                 {"platform_id": found, "name": values["name"]})  # fmt: skip
            if template_id is None:
                template_id = create_template(connection, values=values, settings=settings,
                                              now=now)["id"]  # fmt: skip
                created["templates"] += 1
            for sensor in template.get("sensors", []):
                values = SensorIn.model_validate(sensor | {"template_id": template_id}).model_dump()
                key = {"template_id": template_id, "name": values["name"]}
                if _named(connection, monitoring_sensors, key) is None:
                    create_sensor(connection, values=values, now=now)
                    created["sensors"] += 1
    return created


def _named(connection: Connection, table: sa.Table, key: dict[str, Any]) -> int | None:
    query = sa.select(table.c.id).where(*[table.c[k] == v for k, v in key.items()])
    found = connection.execute(query).scalar()
    return None if found is None else int(found)
