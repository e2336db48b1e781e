"""HTTP polling of a provider's API → bronze, with a persisted cursor and a call budget.

Two shapes of API: a paginated feed (`mode = "cursor"`: each answer holds a page of
messages and the cursor of the next) and one GET per vehicle (`mode = "per_vehicle"`, the
URL holding `{vin}`, as BMW CarData and the Tesla Fleet API). Auth: a bearer token, or OAuth2
client credentials (the token is fetched, and fetched again when refused). Every HTTP call —
token requests and retries included — counts against `calls_per_day` (UTC): a call that
would pass it is not made (BMW locks an account past 50 calls a day). The cursor is saved
only after the page is durable in bronze: a crash re-reads a page, never skips one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from fleetlake.errors import ServiceError
from fleetlake.platform import fetch
from fleetlake.platform.guarded_http import guarded_client
from fleetlake.platform.lake import Lake
from fleetlake.telemetry.bronze import BronzeBuffers
from fleetlake.telemetry.providers import adapter_for

RETRY_STATUSES = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class HttpSource:
    name: str
    url: str
    provider: str = "canonical"
    mode: str = "cursor"  # or "per_vehicle"
    vins: tuple[str, ...] = ()
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    bearer_token: str | None = None
    cursor_param: str = "cursor"
    limit_param: str = "limit"
    page_size: int = 1000
    data_key: str = "data"
    next_key: str = "next_cursor"
    more_key: str = "has_more"
    calls_per_day: int | None = None
    max_retries: int = 4
    backoff_s: float = 0.5


class BudgetExhausted(Exception):
    """No call left today under the source's calls_per_day."""


def state_parts(name: str) -> tuple[str, ...]:
    return ("_state", "telemetry", "sources", f"{name}.json")


@dataclass
class Poll:
    """One polling run of one source; `run()` returns its result."""

    source: HttpSource
    lake: Lake
    buffers: BronzeBuffers
    allow_private: bool = False
    timeout_s: float = 30.0
    sleep: Callable[[float], None] = time.sleep

    def run(self) -> dict[str, Any]:
        for url in filter(None, (self.source.url, self.source.token_url)):
            fetch.check_url_allowed(url.replace("{vin}", "x"), allow_private=self.allow_private)
        self.state: dict[str, Any] = self.lake.read_json(*state_parts(self.source.name), default={})
        self.result: dict[str, Any] = dict(
            name=self.source.name, status="done", calls=0, pages=0, messages=0
        )
        self.token: str | None = self.source.bearer_token
        self.adapter = adapter_for(self.source.provider)
        with guarded_client(
            timeout_s=self.timeout_s, allow_private=self.allow_private
        ) as self.client:
            try:
                if self.source.mode == "per_vehicle":
                    self._per_vehicle()
                else:
                    self._feed()
            except BudgetExhausted:
                self.result["status"] = "budget exhausted"
        self.result["rows_loaded"] = self.buffers.stats.records
        self.result["rows_quarantined"] = self.buffers.stats.rejected
        self.result["cursor"] = self.state.get("cursor")
        return self.result

    def _feed(self) -> None:
        while True:
            params = {self.source.limit_param: self.source.page_size}
            if self.state.get("cursor") is not None:
                params[self.source.cursor_param] = self.state["cursor"]
            body = self._get(self.source.url, params)
            page = body.get(self.source.data_key) or [] if isinstance(body, dict) else []
            self._land(page, vin=None)
            following = body.get(self.source.next_key) if isinstance(body, dict) else None
            if following is not None:
                self.state["cursor"] = following
            self._save()  # the page is durable: the cursor may pass it
            more = (
                body.get(self.source.more_key, following is not None)
                if isinstance(body, dict)
                else False
            )
            if not page or not more:
                return

    def _per_vehicle(self) -> None:
        for vin in self.source.vins:
            body = self._get(self.source.url.replace("{vin}", vin), {})
            self._land(body, vin=vin)

    def _land(self, payload: Any, *, vin: str | None) -> None:
        received_at = datetime.now(UTC)
        batch = self.adapter.map(payload, received_at=received_at, vin=vin)
        self.buffers.add(batch, source=f"http:{self.source.name}", received_at=received_at)
        self.buffers.flush_all()
        self.result["pages"] += 1
        self.result["messages"] += len(payload) if isinstance(payload, list) else 1

    def _get(self, url: str, params: dict[str, Any]) -> Any:
        """GET with auth, retries (Retry-After or doubling backoff) and the budget."""
        refreshed = False
        for attempt in range(self.source.max_retries + 1):
            headers = {"Authorization": f"Bearer {self._token()}"} if self._authed else {}
            try:
                response = self._call("GET", url, params=params, headers=headers)
            except httpx.TransportError:
                if attempt == self.source.max_retries:
                    raise
                self.sleep(self.source.backoff_s * 2**attempt)
                continue
            if response.status_code == 401 and self.source.token_url and not refreshed:
                self.token, refreshed = None, True  # expired: fetch a new one, once
                continue
            if response.status_code in RETRY_STATUSES and attempt < self.source.max_retries:
                self.sleep(_retry_after(response) or self.source.backoff_s * 2**attempt)
                continue
            if response.is_error:
                raise ServiceError(
                    f"{self.source.name}: {url} answered {response.status_code}: "
                    f"{response.text[:200]}; check the source's URL and credentials"
                )
            return response.json()
        raise ServiceError(
            f"{self.source.name}: {url} kept failing; tried {self.source.max_retries + 1} times"
        )

    @property
    def _authed(self) -> bool:
        return bool(self.source.bearer_token or self.source.token_url)

    def _token(self) -> str | None:
        if self.token is None and self.source.token_url:
            response = self._call(
                "POST",
                self.source.token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.source.client_id or "",
                    "client_secret": self.source.client_secret or "",
                },
            )
            if response.is_error:
                raise ServiceError(
                    f"{self.source.name}: the token request answered {response.status_code}; "
                    "check client_id and client_secret"
                )
            self.token = str(response.json()["access_token"])
        return self.token

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        self._spend()
        self.result["calls"] += 1
        return self.client.request(method, url, **kwargs)

    def _spend(self) -> None:
        """Count the call before it is made, durably: a crash never forgets one."""
        today = datetime.now(UTC).date().isoformat()
        calls = {k: v for k, v in self.state.get("calls", {}).items() if k == today}
        limit = self.source.calls_per_day
        if limit is not None and calls.get(today, 0) >= limit:
            raise BudgetExhausted()
        calls[today] = calls.get(today, 0) + 1
        self.state["calls"] = calls
        self._save()

    def _save(self) -> None:
        self.lake.write_json(self.state, *state_parts(self.source.name))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.replace(".", "", 1).isdigit() else None
