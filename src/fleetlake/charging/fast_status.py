"""The hot path of an owner's app: `GET /vehicle/{plate}` and `GET /api/v1/charging/vehicles/
{plate}` answered from the plan Redis holds (one small read of its key) by an ASGI
middleware, before routing and dependency injection (which cost most of a request here:
~2,100 req/s for a bare route on one core of this machine). Anything it cannot answer — no
Redis, a plate not in the plan, reads behind a key, an error — goes on to the routes, which
answer the same."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from fleetlake.charging.lot_plan import LotPlan
from fleetlake.charging.snapshot import status_at
from fleetlake.charging.views import compat_status

log = logging.getLogger(__name__)


def as_is(status: dict[str, Any]) -> dict[str, Any]:
    return status


ROUTES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "/vehicle/": compat_status,
    "/api/v1/charging/vehicles/": as_is,
}
HEADERS = [(b"content-type", b"application/json")]


class FastStatus:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            body = await self._answer(scope)
            if body is not None:
                length = (b"content-length", str(len(body)).encode())
                start = {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [*HEADERS, length],
                }
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    async def _answer(self, scope: dict[str, Any]) -> bytes | None:
        path: str = scope["path"]
        found_route = next(((p, s) for p, s in ROUTES.items() if path.startswith(p)), None)
        if found_route is None:
            return None
        prefix, shape = found_route
        plate = path[len(prefix) :]
        state = scope["app"].state
        cache = getattr(state, "lot_cache", None)
        if cache is None or not 0 < len(plate) <= 64 or "/" in plate:
            return None
        if state.settings.read_requires_key:
            return None  # the routes check the key
        try:
            plan = await cache.aplan()
        except Exception:
            log.debug("Redis read failed; the route answers", exc_info=True)
            return None
        i = plan.find(plate) if isinstance(plan, LotPlan) else None
        if i is None:
            return None
        status = status_at(plan.snapshot(i), time.time())
        return json.dumps(shape(status), separators=(",", ":")).encode()
