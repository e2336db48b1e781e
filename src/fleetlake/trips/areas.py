"""Areas the trips queries understand: a region name or a bbox, matched on trip endpoints."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from fleetlake.errors import InvalidParameter
from fleetlake.trips.models import trips


class Match(StrEnum):
    origin = "origin"
    destination = "destination"
    both = "both"
    either = "either"


@dataclass(frozen=True)
class BBox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    @classmethod
    def parse(cls, text: str, *, field: str = "bbox") -> BBox:
        parts = text.split(",")
        if len(parts) != 4:
            raise InvalidParameter(
                field, f"bbox {text!r} must be min_lon,min_lat,max_lon,max_lat (4 numbers)"
            )
        try:
            min_lon, min_lat, max_lon, max_lat = (float(p) for p in parts)
        except ValueError as exc:
            raise InvalidParameter(
                field, f"bbox {text!r} has a value that is not a number"
            ) from exc
        if not all(math.isfinite(v) for v in (min_lon, min_lat, max_lon, max_lat)):
            raise InvalidParameter(field, f"bbox {text!r} must hold finite numbers")
        if not (-180 <= min_lon <= max_lon <= 180):
            raise InvalidParameter(field, f"bbox {text!r}: need -180 <= min_lon <= max_lon <= 180")
        if not (-90 <= min_lat <= max_lat <= 90):
            raise InvalidParameter(field, f"bbox {text!r}: need -90 <= min_lat <= max_lat <= 90")
        return cls(min_lon, min_lat, max_lon, max_lat)

    def contains(
        self, lon: sa.ColumnElement[Any], lat: sa.ColumnElement[Any]
    ) -> sa.ColumnElement[bool]:
        return sa.and_(
            lon.between(self.min_lon, self.max_lon), lat.between(self.min_lat, self.max_lat)
        )


def area_condition(
    *, region: str | None, bbox: BBox | None, match: Match = Match.origin
) -> sa.ColumnElement[bool]:
    """The WHERE clause for trips in an area; region and bbox may be combined."""
    conditions: list[sa.ColumnElement[bool]] = []
    if region is not None:
        conditions.append(trips.c.region == region)
    if bbox is not None:
        origin = bbox.contains(trips.c.origin_lon, trips.c.origin_lat)
        destination = bbox.contains(trips.c.destination_lon, trips.c.destination_lat)
        conditions.append(
            {
                Match.origin: origin,
                Match.destination: destination,
                Match.both: sa.and_(origin, destination),
                Match.either: sa.or_(origin, destination),
            }[match]
        )
    return sa.and_(sa.true(), *conditions)
