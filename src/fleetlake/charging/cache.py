"""Redis holds every parked plate's plan for fast status reads; the database stays the truth.

One hash per lot (plate → snapshot JSON) and the plan version it holds. A writer fills a
fresh hash and swaps it in with one script only if its version is newer, so a late rebuild
never overwrites a newer plan. A missing version means Redis was flushed or is another one:
the next read rebuilds it from the database.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

# KEYS: tmp, lot, version; ARGV: version. Swap in only a newer plan.
SWAP = """
local held = tonumber(redis.call('GET', KEYS[3]) or '-1')
if held >= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return 0
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[2])
else
  redis.call('DEL', KEYS[2])
end
redis.call('SET', KEYS[3], ARGV[1])
return 1
"""
MISSING = object()  # the cache holds no lot at all: rebuild from the database


class LotCache:
    def __init__(self, url: str, *, prefix: str = "fleetlake") -> None:
        import redis
        import redis.asyncio

        self.url = url
        self.lot_key = f"{prefix}:charging:lot"
        self.version_key = f"{prefix}:charging:version"
        self.prefix = prefix
        self.client = redis.Redis.from_url(url, socket_timeout=5)
        self._async: Any = None
        self._swap = self.client.register_script(SWAP)

    def store(self, snapshots: list[dict[str, Any]], *, version: int) -> bool:
        """Replace the lot with these snapshots if `version` is newer than what is held."""
        tmp = f"{self.prefix}:charging:tmp:{uuid.uuid4().hex}"
        pipe = self.client.pipeline(transaction=False)
        for start in range(0, len(snapshots), 2000):
            chunk = snapshots[start : start + 2000]
            pipe.hset(tmp, mapping={s["plate"]: json.dumps(s) for s in chunk})
        pipe.expire(tmp, 600)  # a writer dying midway leaves nothing for long
        pipe.execute()
        return bool(self._swap(keys=[tmp, self.lot_key, self.version_key], args=[version]))

    def get(self, plate: str) -> dict[str, Any] | object | None:
        """The plate's snapshot, None if the lot has no such plate, MISSING if no lot."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hget(self.lot_key, plate)
        pipe.get(self.version_key)
        found, version = pipe.execute()
        return self._answer(found, version)

    async def aget(self, plate: str) -> dict[str, Any] | object | None:
        if self._async is None:
            import redis.asyncio

            self._async = redis.asyncio.Redis.from_url(self.url, socket_timeout=5)
        async with self._async.pipeline(transaction=False) as pipe:
            pipe.hget(self.lot_key, plate)
            pipe.get(self.version_key)
            found, version = await pipe.execute()
        return self._answer(found, version)

    def all(self) -> list[dict[str, Any]] | None:
        if self.client.get(self.version_key) is None:
            return None
        return [json.loads(value) for value in self.client.hvals(self.lot_key)]

    @staticmethod
    def _answer(found: bytes | None, version: bytes | None) -> dict[str, Any] | object | None:
        if found is not None:
            loaded: dict[str, Any] = json.loads(found)
            return loaded
        return MISSING if version is None else None

    def rebuild(self, engine: Engine, *, settings: Any) -> None:
        """Fill Redis from the database's current plan (after a flush or a new Redis)."""
        from datetime import UTC, datetime

        from fleetlake.charging.plan import current_plan

        with engine.connect() as connection:
            plan = current_plan(connection, settings=settings, now=datetime.now(UTC))
        snapshots = plan.snapshots()
        self.store(snapshots, version=plan.version)
        log.info("rebuilt the lot in Redis from the database: %d cars", len(snapshots))

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
        self.client.close()
