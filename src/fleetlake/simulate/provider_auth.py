"""What a simulated provider API shares: OAuth2 client credentials, bearer checks and calls
that fail on purpose (every `fail_every`-th answers 503 with Retry-After 0, for retry tests)."""

from __future__ import annotations

import secrets
import time
from typing import Any

from fastapi import FastAPI, Form, HTTPException
from fastapi.responses import JSONResponse

TOKEN_TTL_S = 300


class SimulatedAuth:
    def __init__(self, *, client_id: str, client_secret: str, fail_every: int = 0) -> None:
        self.client_id, self.client_secret, self.fail_every = client_id, client_secret, fail_every
        self.tokens: dict[str, float] = {}
        self.calls = {"n": 0}

    def flaky(self) -> JSONResponse | None:
        """Count the call; the failure to answer instead, when it is its turn."""
        self.calls["n"] += 1
        if self.fail_every and self.calls["n"] % self.fail_every == 0:
            return JSONResponse({"error": "try again"}, 503, headers={"Retry-After": "0"})
        return None

    def authorised(self, authorization: str | None) -> None:
        token = (authorization or "").removeprefix("Bearer ").strip()
        if self.tokens.get(token, 0) < time.monotonic():
            raise HTTPException(401, "invalid or expired token")

    def mount(self, app: FastAPI, path: str = "/oauth/token") -> None:
        app.state.calls = self.calls

        @app.post(path)
        def token(
            grant_type: str = Form(...), client_id: str = Form(...),
            client_secret: str = Form(...), scope: str | None = Form(None),
        ) -> Any:  # fmt: skip
            if failed := self.flaky():
                return failed
            given = (grant_type, client_id, client_secret)
            if given != ("client_credentials", self.client_id, self.client_secret):
                raise HTTPException(401, "bad client credentials")
            issued = secrets.token_urlsafe(16)
            self.tokens[issued] = time.monotonic() + TOKEN_TTL_S
            return {"access_token": issued, "token_type": "Bearer", "expires_in": TOKEN_TTL_S}
