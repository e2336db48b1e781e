"""Simulated sensors as a timeseries API shaped like Equinor's Omnia Timeseries API (v1.7),
so polling can be run and tested for real.

    POST /oauth/token                           client credentials → {"access_token", …}
    GET  /plant/timeseries/v1.7                 ?externalId&name → {"data": {"items": [meta]}}
    GET  /plant/timeseries/v1.7/{id}            → {"data": {"items": [meta]}}
    GET  /plant/timeseries/v1.7/{id}/data       ?startTime&endTime&limit&continuationToken
        → {"data": {"items": [{"id", "datapoints": [{"time", "value", "status"}]}]},
           "count", "continuationToken"}

Times are RFC 3339 with milliseconds and Z; `startTime` is inclusive, `endTime` exclusive;
the continuation token is opaque (the next datapoint's position). A datapoint of bad quality
carries status 0 instead of 192.
"""

from __future__ import annotations

import base64
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Header, HTTPException, Query

from fleetlake.platform.db import rfc3339_ms
from fleetlake.simulate.provider_auth import SimulatedAuth

BASE = "/plant/timeseries/v1.7"


@dataclass(frozen=True)
class Timeseries:
    id: str
    name: str
    unit: str
    times: list[datetime]
    values: list[float]
    statuses: list[int]

    def meta(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "description": "simulated methane sensor",
                "step": False, "unit": self.unit, "assetId": "", "facility": "SIM",
                "externalId": self.id, "source": "fleetlake-simulate"}  # fmt: skip


def omnia_api(
    series: list[Timeseries], *, client_id: str, client_secret: str, fail_every: int = 0
) -> FastAPI:
    by_id = {s.id: s for s in series}
    auth = SimulatedAuth(client_id=client_id, client_secret=client_secret, fail_every=fail_every)
    app = FastAPI(title="simulated Omnia Timeseries API")
    auth.mount(app)

    def found(id_: str, authorization: str | None) -> Timeseries:
        auth.authorised(authorization)
        if id_ not in by_id:
            raise HTTPException(404, {"statusCode": 404, "message": f"timeseries {id_} not found"})
        return by_id[id_]

    @app.get(BASE)
    def listed(externalId: str | None = None, name: str | None = None,
               authorization: str | None = Header(None)) -> Any:  # fmt: skip
        if failed := auth.flaky():
            return failed
        auth.authorised(authorization)
        items = [s.meta() for s in series if externalId in (None, s.id) and name in (None, s.name)]
        return {"data": {"items": items}, "count": len(items), "continuationToken": None}

    @app.get(BASE + "/{id_}")
    def meta(id_: str, authorization: str | None = Header(None)) -> Any:
        if failed := auth.flaky():
            return failed
        return {"data": {"items": [found(id_, authorization).meta()]}}

    @app.get(BASE + "/{id_}/data")
    def data(
        id_: str, startTime: str | None = None, endTime: str | None = None,
        limit: int = Query(1000, ge=1, le=100_000), continuationToken: str | None = None,
        authorization: str | None = Header(None),
    ) -> Any:  # fmt: skip
        if failed := auth.flaky():
            return failed
        one = found(id_, authorization)
        first = bisect_left(one.times, _parsed(startTime)) if startTime else 0
        if continuationToken:
            first = max(first, int(base64.urlsafe_b64decode(continuationToken.encode())))
        stop = bisect_left(one.times, _parsed(endTime)) if endTime else len(one.times)
        last = min(first + limit, stop)
        points = [{"time": rfc3339_ms(one.times[k]), "value": one.values[k],
                   "status": one.statuses[k]} for k in range(first, last)]  # fmt: skip
        token = base64.urlsafe_b64encode(str(last).encode()).decode() if last < stop else None
        return {"data": {"items": [{"id": one.id, "datapoints": points}]}, "count": len(points),
                "continuationToken": token}  # fmt: skip

    return app


def _parsed(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(400, {"statusCode": 400, "message": f"bad time {text!r}"}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
