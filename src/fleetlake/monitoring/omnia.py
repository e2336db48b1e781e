"""Polling a timeseries API shaped like Equinor's Omnia Timeseries API → the lake.

Each sensor with a `source_id` is one Omnia timeseries (its id). Its metadata
(`GET {url}/{id}`) gives the unit, converted to ppmv; its datapoints come from
`GET {url}/{id}/data?startTime&endTime&limit&continuationToken`, answered as
`{"data": {"items": [{"id", "datapoints": [{"time", "value", "status"}]}]},
"continuationToken"}`. A datapoint whose status is not good (OPC quality 192 unless
configured) is quarantined with its status. Auth, the daily call budget and the back-off are
`platform.http_poll`'s; each sensor's cursor (the newest time landed, or a page's
continuation token) is saved only after the page is landed, so a crash re-reads a page and
never skips one, and re-read datapoints at or before the cursor are dropped before landing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fleetlake.errors import InvalidParameter, ServiceError, Unreachable
from fleetlake.monitoring.landing import land_readings
from fleetlake.monitoring.readings import Received, Refused, time_of
from fleetlake.monitoring.tables import monitoring_sensors
from fleetlake.platform import fetch
from fleetlake.platform.db import rfc3339_ms
from fleetlake.platform.guarded_http import guarded_client
from fleetlake.platform.http_poll import ApiAccess, ApiCaller, BudgetExhausted
from fleetlake.platform.lake import Lake

GOOD = 192  # OPC quality "good", as Omnia reports it
TO_PPMV = {"ppm": 1.0, "ppmv": 1.0, "ppm v/v": 1.0, "ppb": 1e-3, "%": 1e4, "% v/v": 1e4,
           "%v/v": 1e4, "vol%": 1e4, "% vol": 1e4}  # fmt: skip


@dataclass(frozen=True)
class OmniaSource:
    name: str
    url: str  # the API's base, e.g. https://api.gateway.equinor.com/plant/timeseries/v1.7
    access: ApiAccess
    page_size: int = 10_000
    since_days: float = 7.0  # how far back a sensor with no cursor starts
    good_statuses: tuple[int, ...] = (GOOD,)
    every_s: float = 60.0


def unit_factor(unit: str | None, *, timeseries: str) -> float:
    """ppmv per unit of the timeseries; a unit not known is refused, naming it."""
    key = " ".join((unit or "ppm").lower().split())
    if key not in TO_PPMV:
        raise InvalidParameter(
            "unit", f"timeseries {timeseries}: unit {unit!r} is not a concentration we convert "
            f"(known: {', '.join(sorted(TO_PPMV))})",
        )  # fmt: skip
    return TO_PPMV[key]


def state_parts(name: str) -> tuple[str, ...]:
    return ("_state", "monitoring", "sources", f"{name}.json")


@dataclass
class OmniaPoll:
    """One poll of every sensor of one source; `run()` returns what it landed."""

    source: OmniaSource
    engine: Engine
    lake: Lake
    allow_private: bool = False
    timeout_s: float = 30.0
    sleep: Callable[[float], None] = time.sleep

    def run(self, *, now: datetime | None = None) -> dict[str, Any]:
        for url in filter(None, (self.source.url, self.source.access.token_url)):
            fetch.check_url_allowed(url, allow_private=self.allow_private)
        self.now = now or datetime.now(UTC)
        self.state: dict[str, Any] = self.lake.read_json(*state_parts(self.source.name), default={})
        self.result: dict[str, Any] = {
            "name": self.source.name, "status": "done", "pages": 0, "rows_loaded": 0,
            "rows_quarantined": 0, "errors": [],
        }  # fmt: skip
        with guarded_client(timeout_s=self.timeout_s, allow_private=self.allow_private) as client:
            self.api = ApiCaller(self.source.access, client, self.state, self._save, self.sleep)
            try:
                for timeseries in self._timeseries():
                    self._poll_one(timeseries)
            except BudgetExhausted:
                self.result["status"] = "budget exhausted"
        self.result["calls"] = self.api.calls
        return self.result

    def _timeseries(self) -> list[str]:
        s = monitoring_sensors
        query = sa.select(s.c.source_id).where(s.c.source_id.is_not(None)).order_by(s.c.id)
        with self.engine.connect() as connection:
            return [str(v) for v in connection.execute(query).scalars()]

    def _poll_one(self, timeseries: str) -> None:
        try:
            factor = self._factor(timeseries)
        except Unreachable:
            raise  # the whole source is down: the poll fails, naming it
        except (InvalidParameter, ServiceError) as exc:  # this timeseries only: skipped
            self.result["errors"].append(str(exc))
            self.result["status"] = f"done, {len(self.result['errors'])} timeseries skipped"
            return
        cursors = self.state.setdefault("cursors", {})
        while True:
            cursor = cursors.get(timeseries) or {}
            after = cursor.get("after")  # the newest time landed
            if cursor.get("token"):  # the rest of a paged answer: the same query, continued
                query = {"startTime": cursor["start"], "endTime": cursor["end"],
                         "continuationToken": cursor["token"]}  # fmt: skip
            else:
                begin = (
                    time_of(after) if after else self.now - timedelta(days=self.source.since_days)
                )
                assert isinstance(begin, datetime)
                query = {"startTime": rfc3339_ms(begin), "endTime": rfc3339_ms(self.now)}
            body = self.api.get(f"{self.source.url.rstrip('/')}/{timeseries}/data",
                                query | {"limit": self.source.page_size})  # fmt: skip
            points = _datapoints(body, timeseries)
            newest = self._land(timeseries, points, factor=factor, after=after)
            token = body.get("continuationToken") if isinstance(body, dict) else None
            cursors[timeseries] = {
                "after": newest or after, "token": token,
                "start": query["startTime"], "end": query["endTime"],
            }  # fmt: skip
            self._save()  # the page is landed: the cursor may pass it
            if not token or not points:
                return

    def _factor(self, timeseries: str) -> float:
        units = self.state.setdefault("units", {})
        if timeseries not in units:
            body = self.api.get(f"{self.source.url.rstrip('/')}/{timeseries}", {})
            items = _items(body)
            units[timeseries] = items[0].get("unit") if items else None
        return unit_factor(units[timeseries], timeseries=timeseries)

    def _land(self, timeseries: str, points: list[Any], *, factor: float,
              after: str | None) -> str | None:  # fmt: skip
        """The page's new datapoints landed; the newest time among them."""
        floor = time_of(after) if after else None
        assert not isinstance(floor, str)  # the cursor holds times we wrote
        records: list[Received | Refused] = []
        newest: datetime | None = None
        for line, point in enumerate(points, start=1):
            if not isinstance(point, dict):
                records.append(Refused(line, str(point)[:2000], "not a datapoint object"))
                continue
            moment = time_of(point.get("time"))
            if isinstance(moment, datetime):
                if floor is not None and moment <= floor:
                    continue  # landed already: the page started at the cursor
                newest = max(newest or moment, moment)
            records.append(self._record(line, timeseries, point, factor=factor))
        if records:
            found = land_readings(self.engine, self.lake, records, now=datetime.now(UTC),
                                  source=f"omnia:{self.source.name}:{timeseries}")  # fmt: skip
            self.result["rows_loaded"] += found["rows_loaded"]
            self.result["rows_quarantined"] += found["rows_quarantined"]
        self.result["pages"] += 1
        return newest.isoformat() if newest else None

    def _record(self, line: int, timeseries: str, point: dict[str, Any], *,
                factor: float) -> Received | Refused:  # fmt: skip
        status = point.get("status", GOOD)
        value = point.get("value")
        if status not in self.source.good_statuses:
            raw = Received(line, timeseries, point.get("time"), value).raw
            return Refused(line, raw, f"Omnia status {status} is not good "
                           f"({', '.join(map(str, self.source.good_statuses))})")  # fmt: skip
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = value * factor
        return Received(line, timeseries, point.get("time"), value)

    def _save(self) -> None:
        self.lake.write_json(self.state, *state_parts(self.source.name))


def _items(body: Any) -> list[Any]:
    """An Omnia answer's `data.items` (empty for anything else)."""
    data = body.get("data") if isinstance(body, dict) else None
    items = data.get("items") if isinstance(data, dict) else None
    return items if isinstance(items, list) else []


def _datapoints(body: Any, timeseries: str) -> list[Any]:
    for item in _items(body):
        if isinstance(item, dict) and str(item.get("id", timeseries)) == timeseries:
            points = item.get("datapoints") or []
            return points if isinstance(points, list) else []
    return []
