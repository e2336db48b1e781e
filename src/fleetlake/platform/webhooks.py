"""Webhooks: registered URLs get every job event as a signed POST, retried with backoff.

Signature header: `X-Fleetlake-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
`"<t>.<raw body>"` with the webhook's secret; receivers recompute it and reject old `t`.
Every delivery attempt is recorded in `webhook_deliveries`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fleetlake.errors import NotFound, SourceRejected
from fleetlake.platform import fetch
from fleetlake.platform.events import bus
from fleetlake.platform.jobs import event_message, utcnow
from fleetlake.platform.redact import hide_home
from fleetlake.platform.tables import job_events, webhook_deliveries, webhooks
from fleetlake.settings import Settings

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Fleetlake-Signature"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, body: bytes, header: str, *, tolerance_s: int = 300) -> bool:
    """What a receiver does; used by our tests and documented for users."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


def create_webhook(
    connection: Connection,
    *,
    url: str,
    secret: str | None,
    event_types: list[str] | None,
    allow_private: bool,
) -> dict[str, Any]:
    fetch.check_url_allowed(url, allow_private=allow_private, field="url")
    secret = secret or secrets.token_urlsafe(32)
    webhook_id = connection.execute(
        webhooks.insert().values(
            url=url, secret=secret, event_types=event_types, active=True, created_at=utcnow()
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    return get_webhook(connection, webhook_id=webhook_id) | {"secret": secret}


def get_webhook(connection: Connection, *, webhook_id: int) -> dict[str, Any]:
    row = (
        connection.execute(sa.select(webhooks).where(webhooks.c.id == webhook_id))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"webhook {webhook_id} does not exist", field="id")
    return _public(row)


def list_webhooks(connection: Connection) -> list[dict[str, Any]]:
    rows = connection.execute(sa.select(webhooks).order_by(webhooks.c.id)).mappings()
    return [_public(row) for row in rows]


def delete_webhook(connection: Connection, *, webhook_id: int) -> None:
    get_webhook(connection, webhook_id=webhook_id)
    connection.execute(webhooks.delete().where(webhooks.c.id == webhook_id))


def list_deliveries(
    connection: Connection, *, webhook_id: int, limit: int = 100
) -> list[dict[str, Any]]:
    get_webhook(connection, webhook_id=webhook_id)
    rows = connection.execute(
        sa.select(webhook_deliveries)
        .where(webhook_deliveries.c.webhook_id == webhook_id)
        .order_by(webhook_deliveries.c.id.desc())
        .limit(limit)
    ).mappings()
    return [dict(row) | {"created_at": row["created_at"].isoformat()} for row in rows]


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "url": row["url"],
        "event_types": row["event_types"],
        "active": row["active"],
        "created_at": row["created_at"].isoformat(),
    }


class WebhookDispatcher:
    """Delivers this process's job events; one worker thread per webhook keeps their order."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_attempts: int,
        backoff_s: float,
        timeout_s: float,
        allow_private: bool = False,
        home: Path | None = None,
    ) -> None:
        self.engine = engine
        self.allow_private = allow_private
        self.home = home  # written <home> in bodies: receivers see no server layout
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._queues: dict[int, queue.Queue[int | None]] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, engine: Engine, settings: Settings) -> WebhookDispatcher:
        return cls(
            engine,
            max_attempts=settings.webhook_max_attempts,
            backoff_s=settings.webhook_backoff_s,
            timeout_s=settings.webhook_timeout_s,
            allow_private=settings.allow_private_urls,
            home=settings.home_dir,
        )

    def start(self) -> None:
        bus.add_local_hook(self.on_event)

    def stop(self, *, drain_s: float = 0.0) -> None:
        bus.remove_local_hook(self.on_event)
        deadline = time.monotonic() + drain_s
        with self._lock:
            for q in self._queues.values():
                q.put(None)
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def on_event(self, job_id: int, event_id: int) -> None:
        with self.engine.connect() as connection:
            event = (
                connection.execute(sa.select(job_events).where(job_events.c.id == event_id))
                .mappings()
                .first()
            )
            targets = (
                connection.execute(sa.select(webhooks).where(webhooks.c.active)).mappings().all()
            )
        if event is None:
            return
        for webhook in targets:
            if webhook["event_types"] and event["type"] not in webhook["event_types"]:
                continue
            self._queue_for(webhook["id"]).put(event_id)

    def _queue_for(self, webhook_id: int) -> queue.Queue[int | None]:
        with self._lock:
            if webhook_id not in self._queues:
                self._queues[webhook_id] = queue.Queue()
                thread = threading.Thread(
                    target=self._work, args=(webhook_id,), name=f"webhook-{webhook_id}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            return self._queues[webhook_id]

    def _work(self, webhook_id: int) -> None:
        from fleetlake.platform.guarded_http import guarded_client

        pending = self._queues[webhook_id]
        with guarded_client(timeout_s=self.timeout_s, allow_private=self.allow_private) as client:
            while (event_id := pending.get()) is not None:
                try:
                    self._deliver(client, webhook_id, event_id)
                except Exception:
                    log.exception("webhook %s: delivery of event %s crashed", webhook_id, event_id)

    def _deliver(self, client: Any, webhook_id: int, event_id: int) -> None:
        with self.engine.connect() as connection:
            webhook = (
                connection.execute(sa.select(webhooks).where(webhooks.c.id == webhook_id))
                .mappings()
                .first()
            )
            event = (
                connection.execute(sa.select(job_events).where(job_events.c.id == event_id))
                .mappings()
                .first()
            )
        if webhook is None or event is None:
            return
        message = event_message(dict(event))
        body = json.dumps(hide_home(message, home=self.home) if self.home else message).encode()
        for attempt in range(1, self.max_attempts + 1):
            started = time.monotonic()
            status, error = None, None
            try:
                response = client.post(
                    webhook["url"],
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        SIGNATURE_HEADER: sign(webhook["secret"], body, int(time.time())),
                        "X-Fleetlake-Event": event["type"],
                        "X-Fleetlake-Delivery": f"{webhook_id}-{event_id}",
                    },
                )
                status = response.status_code
                ok = 200 <= status < 300
                error = None if ok else f"HTTP {status}"
            except SourceRejected as exc:  # a non-public address: no retry can fix it
                self._record(webhook_id, event_id, attempt, "refused", None, exc.message, started)
                return
            except Exception as exc:
                ok, error = False, f"{type(exc).__name__}: {exc}"
            final = ok or attempt == self.max_attempts
            outcome = "delivered" if ok else ("failed" if final else "retrying")
            self._record(webhook_id, event_id, attempt, outcome, status, error, started)
            if final:
                return
            time.sleep(self.backoff_s * 2 ** (attempt - 1))

    def _record(
        self,
        webhook_id: int,
        event_id: int,
        attempt: int,
        outcome: str,
        status: int | None,
        error: str | None,
        started: float,
    ) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                webhook_deliveries.insert().values(
                    webhook_id=webhook_id,
                    event_id=event_id,
                    attempt=attempt,
                    outcome=outcome,
                    status_code=status,
                    error=error,
                    duration_ms=(time.monotonic() - started) * 1000,
                    created_at=utcnow(),
                )
            )
