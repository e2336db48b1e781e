"""Fan-out of job events: wake subscribers the moment a job has something new.

The event rows themselves live in the database (`job_events`); the bus only says
"job N has news", so a subscriber re-reads from its last seen id and never misses one.
In-process by default; on PostgreSQL a LISTEN thread relays NOTIFYs from other processes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)
CHANNEL = "fleetlake_events"


class Subscription:
    """Wakes on news for one job (or every job when `job_id` is None)."""

    def __init__(self, bus: EventBus, job_id: int | None, *, asynchronous: bool) -> None:
        self.bus = bus
        self.job_id = job_id
        self._loop = asyncio.get_running_loop() if asynchronous else None
        self._async_event = asyncio.Event() if asynchronous else None
        self._thread_event = threading.Event()

    def notify(self) -> None:
        if self._loop is not None and self._async_event is not None:
            try:
                self._loop.call_soon_threadsafe(self._async_event.set)
            except RuntimeError:  # the subscriber's loop is closed
                self.close()
        else:
            self._thread_event.set()

    async def wait(self, timeout: float) -> bool:
        assert self._async_event is not None
        try:
            await asyncio.wait_for(self._async_event.wait(), timeout)
        except TimeoutError:
            return False
        self._async_event.clear()
        return True

    def wait_blocking(self, timeout: float) -> bool:
        woke = self._thread_event.wait(timeout)
        self._thread_event.clear()
        return woke

    def close(self) -> None:
        self.bus.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()
        self._local_hooks: list[Callable[[int, int], None]] = []
        self._listeners: dict[str, threading.Thread] = {}

    def subscribe(self, job_id: int | None = None, *, asynchronous: bool = False) -> Subscription:
        subscription = Subscription(self, job_id, asynchronous=asynchronous)
        with self._lock:
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    def add_local_hook(self, hook: Callable[[int, int], None]) -> None:
        """Called with (job_id, event_id) for events appended by this process only."""
        with self._lock:
            self._local_hooks.append(hook)

    def remove_local_hook(self, hook: Callable[[int, int], None]) -> None:
        with self._lock:
            if hook in self._local_hooks:
                self._local_hooks.remove(hook)

    def publish(self, job_id: int, event_id: int | None = None) -> None:
        with self._lock:
            targets = [s for s in self._subscriptions if s.job_id in (None, job_id)]
            hooks = list(self._local_hooks) if event_id is not None else []
        for subscription in targets:
            subscription.notify()
        for hook in hooks:
            try:
                hook(job_id, event_id)  # type: ignore[arg-type]
            except Exception:
                log.exception("event hook failed")

    def listen_postgres(self, engine: Engine) -> None:
        """Relay NOTIFYs from other processes into this bus (one thread per database)."""
        key = engine.url.render_as_string(hide_password=False)
        with self._lock:
            if key in self._listeners and self._listeners[key].is_alive():
                return
            thread = threading.Thread(
                target=self._listen_forever, args=(engine,), name="pg-listen", daemon=True
            )
            self._listeners[key] = thread
        thread.start()

    def _listen_forever(self, engine: Engine) -> None:
        import time

        import psycopg

        conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while True:
            try:
                with psycopg.connect(conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    for notify in connection.notifies():
                        self._relay(notify.payload)
            except Exception:
                log.warning("PostgreSQL LISTEN connection lost; reconnecting", exc_info=True)
                time.sleep(1.0)

    def _relay(self, payload: Any) -> None:
        try:
            job_id = int(str(payload).split(":", 1)[0])
        except ValueError:
            return
        self.publish(job_id)


bus = EventBus()
