"""HTTP polling of a provider's API → bronze, with a persisted cursor and a call budget.

Two shapes of API: a paginated feed (`mode = "cursor"`: each answer holds a page of
messages and the cursor of the next) and one GET per vehicle (`mode = "per_vehicle"`, the
URL holding `{vin}`, as BMW CarData and the Tesla Fleet API). Auth, the daily call budget and
retries are `platform.http_poll`'s. The cursor is saved only after the page is durable in
bronze: a crash re-reads a page, never skips one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fleetlake.platform import fetch
from fleetlake.platform.guarded_http import guarded_client
from fleetlake.platform.http_poll import ApiAccess, ApiCaller, BudgetExhausted
from fleetlake.platform.lake import Lake
from fleetlake.telemetry.bronze import BronzeBuffers
from fleetlake.telemetry.providers import adapter_for


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

    @property
    def access(self) -> ApiAccess:
        return ApiAccess(
            name=self.name, token_url=self.token_url, client_id=self.client_id,
            client_secret=self.client_secret, bearer_token=self.bearer_token,
            calls_per_day=self.calls_per_day, max_retries=self.max_retries,
            backoff_s=self.backoff_s,
        )  # fmt: skip


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
        self.adapter = adapter_for(self.source.provider)
        with guarded_client(timeout_s=self.timeout_s, allow_private=self.allow_private) as client:
            self.api = ApiCaller(self.source.access, client, self.state, self._save, self.sleep)
            try:
                if self.source.mode == "per_vehicle":
                    self._per_vehicle()
                else:
                    self._feed()
            except BudgetExhausted:
                self.result["status"] = "budget exhausted"
        self.result["calls"] = self.api.calls
        self.result["rows_loaded"] = self.buffers.stats.records
        self.result["rows_quarantined"] = self.buffers.stats.rejected
        self.result["cursor"] = self.state.get("cursor")
        return self.result

    def _feed(self) -> None:
        while True:
            params = {self.source.limit_param: self.source.page_size}
            if self.state.get("cursor") is not None:
                params[self.source.cursor_param] = self.state["cursor"]
            body = self.api.get(self.source.url, params)
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
            body = self.api.get(self.source.url.replace("{vin}", vin), {})
            self._land(body, vin=vin)

    def _land(self, payload: Any, *, vin: str | None) -> None:
        received_at = datetime.now(UTC)
        batch = self.adapter.map(payload, received_at=received_at, vin=vin)
        self.buffers.add(batch, source=f"http:{self.source.name}", received_at=received_at)
        self.buffers.flush_all()
        self.result["pages"] += 1
        self.result["messages"] += len(payload) if isinstance(payload, list) else 1

    def _save(self) -> None:
        self.lake.write_json(self.state, *state_parts(self.source.name))
