"""The simulated fleet as a provider's HTTP API, so polling can be run and tested for real.

    POST /oauth/token          client credentials (form) → {"access_token", "expires_in": 300}
    GET  /api/v1/telemetry     ?cursor=N&limit=M, Bearer → {"data", "next_cursor", "has_more"}
    GET  /api/v1/vehicles/{vin}/latest                   → the vehicle's latest message

Messages are the canonical JSON of the delivered messages, in order of receipt; the cursor
is a position in that order. `fail_every` makes every n-th call answer 503 (retry tests).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from fastapi import FastAPI, Header, HTTPException, Query

from fleetlake.simulate.provider_auth import SimulatedAuth


def telemetry_api(
    messages: pa.Table, *, client_id: str, client_secret: str, fail_every: int = 0
) -> FastAPI:
    rows = _json_rows(messages)
    auth = SimulatedAuth(client_id=client_id, client_secret=client_secret, fail_every=fail_every)
    app = FastAPI(title="simulated fleet provider")
    auth.mount(app)
    flaky, authorised = auth.flaky, auth.authorised

    @app.get("/api/v1/telemetry")
    def feed(
        cursor: int = Query(0, ge=0), limit: int = Query(1000, ge=1, le=10_000),
        authorization: str | None = Header(None),
    ) -> Any:  # fmt: skip
        if failed := flaky():
            return failed
        authorised(authorization)
        page = rows[cursor : cursor + limit]
        following = cursor + len(page)
        return {"data": page, "next_cursor": following, "has_more": following < len(rows)}

    @app.get("/api/v1/vehicles/{vin}/latest")
    def latest(vin: str, authorization: str | None = Header(None)) -> Any:
        if failed := flaky():
            return failed
        authorised(authorization)
        mine = [row for row in rows if row["vin"] == vin]
        if not mine:
            raise HTTPException(404, f"no vehicle {vin}")
        return mine[-1]

    return app


def _json_rows(messages: pa.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = messages.drop_columns(["extra"]).to_pylist()
    for row in rows:
        row["ts"], row["received_at"] = row["ts"].isoformat(), row["received_at"].isoformat()
    return rows
