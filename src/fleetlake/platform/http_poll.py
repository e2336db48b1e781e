"""Calls to a polled HTTP API: auth, a daily call budget, retries with back-off.

Auth is a bearer token or OAuth2 client credentials (the token is fetched, and fetched
again once when refused). Every HTTP call — token requests and retries included — counts
against `calls_per_day` (UTC) before it is made, and the count is saved at once: a call
that would pass the budget is not made, and a crash never forgets one (BMW locks an
account past 50 calls a day). 429 and 5xx answers are retried after `Retry-After` or a
doubling back-off. What the caller keeps in `state` besides the count (its cursors) is
saved by the same `save`, after the page it covers is durable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from fleetlake.errors import ServiceError, Unreachable

RETRY_STATUSES = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class ApiAccess:
    name: str
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None  # OAuth2 scope, e.g. Azure AD's "<resource>/.default"
    bearer_token: str | None = None
    calls_per_day: int | None = None
    max_retries: int = 4
    backoff_s: float = 0.5


class BudgetExhausted(Exception):
    """No call left today under the source's calls_per_day."""


@dataclass
class ApiCaller:
    """GETs under one source's access rules; `calls` counts this run's calls."""

    access: ApiAccess
    client: httpx.Client
    state: dict[str, Any]
    save: Callable[[], None]
    sleep: Callable[[float], None] = time.sleep
    calls: int = 0
    token: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.token = self.access.bearer_token

    def get(self, url: str, params: dict[str, Any]) -> Any:
        """The answer's JSON, after auth, retries (Retry-After or doubling back-off) and
        the budget; raises BudgetExhausted or a ServiceError naming the status."""
        refreshed = False
        tries = self.access.max_retries + 1
        for attempt in range(tries):
            headers = {"Authorization": f"Bearer {self._token()}"} if self._authed else {}
            try:
                response = self._call("GET", url, params=params, headers=headers)
            except httpx.TransportError as exc:
                if attempt == tries - 1:
                    raise Unreachable(
                        f"{self.access.name}: cannot reach {url} ({exc}), tried {tries} times; "
                        "check the source's url and that the service runs"
                    ) from exc
                self.sleep(self.access.backoff_s * 2**attempt)
                continue
            if response.status_code == 401 and self.access.token_url and not refreshed:
                self.token, refreshed = None, True  # expired: fetch a new one, once
                continue
            if response.status_code in RETRY_STATUSES and attempt < tries - 1:
                self.sleep(retry_after(response) or self.access.backoff_s * 2**attempt)
                continue
            if response.is_error:
                raise ServiceError(
                    f"{self.access.name}: {url} answered {response.status_code}: "
                    f"{response.text[:200]}; check the source's URL and credentials"
                )
            return response.json()
        raise ServiceError(f"{self.access.name}: {url} kept failing; tried {tries} times")

    @property
    def _authed(self) -> bool:
        return bool(self.access.bearer_token or self.access.token_url)

    def _token(self) -> str | None:
        if self.token is None and self.access.token_url:
            form = {
                "grant_type": "client_credentials",
                "client_id": self.access.client_id or "",
                "client_secret": self.access.client_secret or "",
            }
            if self.access.scope:
                form["scope"] = self.access.scope
            response = self._call("POST", self.access.token_url, data=form)
            if response.is_error:
                raise ServiceError(
                    f"{self.access.name}: the token request answered {response.status_code}; "
                    "check client_id and client_secret"
                )
            self.token = str(response.json()["access_token"])
        return self.token

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        self._spend()
        self.calls += 1
        return self.client.request(method, url, **kwargs)

    def _spend(self) -> None:
        """Count the call before it is made, durably."""
        today = datetime.now(UTC).date().isoformat()
        calls = {k: v for k, v in self.state.get("calls", {}).items() if k == today}
        limit = self.access.calls_per_day
        if limit is not None and calls.get(today, 0) >= limit:
            raise BudgetExhausted()
        calls[today] = calls.get(today, 0) + 1
        self.state["calls"] = calls
        self.save()


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.replace(".", "", 1).isdigit() else None
