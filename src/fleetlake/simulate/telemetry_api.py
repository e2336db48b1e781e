"""The simulated fleet as a provider's HTTP API, so polling can be run and tested for real.

    POST /oauth/token          client credentials (form) → {"access_token", "expires_in": 300}
    GET  /api/v1/telemetry     ?cursor=N&limit=M, Bearer → {"data", "next_cursor", "has_more"}
    GET  /api/v1/vehicles/{vin}/latest                   → the vehicle's latest message

Messages are the canonical JSON of the delivered messages, in order of receipt; the cursor
is a position in that order. `fail_every` makes every n-th call answer 503 (retry tests).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import pyarrow as pa
from fastapi import FastAPI, Form, Header, HTTPException, Query
from fastapi.responses import JSONResponse

TOKEN_TTL_S = 300


def telemetry_api(
    messages: pa.Table, *, client_id: str, client_secret: str, fail_every: int = 0
) -> FastAPI:
    rows = _json_rows(messages)
    tokens: dict[str, float] = {}
    calls = {"n": 0}
    app = FastAPI(title="simulated fleet provider")
    app.state.calls = calls

    def flaky() -> JSONResponse | None:
        calls["n"] += 1
        if fail_every and calls["n"] % fail_every == 0:
            return JSONResponse({"error": "try again"}, 503, headers={"Retry-After": "0"})
        return None

    def authorised(authorization: str | None) -> None:
        token = (authorization or "").removeprefix("Bearer ").strip()
        if tokens.get(token, 0) < time.monotonic():
            raise HTTPException(401, "invalid or expired token")

    @app.post("/oauth/token")
    def token(
        grant_type: str = Form(...), client_id_: str = Form(..., alias="client_id"),
        client_secret_: str = Form(..., alias="client_secret"),
    ) -> Any:  # fmt: skip
        if failed := flaky():
            return failed
        if grant_type != "client_credentials" or (client_id_, client_secret_) != (
            client_id,
            client_secret,
        ):
            raise HTTPException(401, "bad client credentials")
        issued = secrets.token_urlsafe(16)
        tokens[issued] = time.monotonic() + TOKEN_TTL_S
        return {"access_token": issued, "token_type": "Bearer", "expires_in": TOKEN_TTL_S}

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
