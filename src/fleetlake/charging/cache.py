"""Redis holds the lot's plan for fast status reads; the database stays the truth.

Three keys under the prefix: the plan (the same blob the database stores, every parked
plate's segments and ready time), its key and its version. A writer swaps all three in with
one script, only if its version is newer, so a late rebuild never overwrites a newer plan. A
reader asks Redis for the key alone and answers from the plan it decoded last while the key
is the same: one small round trip a status read, one blob transfer a replan. No key means
Redis was flushed or is another one: the next read rebuilds it from the database.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.engine import Engine

from fleetlake.charging.lot_plan import LotPlan

log = logging.getLogger(__name__)

# KEYS: plan, key, version; ARGV: blob, key, version. Swap in only a newer plan.
SWAP = """
local held = tonumber(redis.call('GET', KEYS[3]) or '-1')
if held >= tonumber(ARGV[3]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3])
return 1
"""
MISSING = object()  # the cache holds no lot at all: rebuild from the database


class LotCache:
    def __init__(self, url: str, *, prefix: str = "fleetlake") -> None:
        import redis

        self.url = url
        self.plan_key = f"{prefix}:charging:plan"
        self.key_key = f"{prefix}:charging:key"
        self.version_key = f"{prefix}:charging:version"
        self.client = redis.Redis.from_url(url, socket_timeout=5)
        self._async: Any = None
        self._swap = self.client.register_script(SWAP)
        self._decoded: LotPlan | None = None  # the plan last read, good while its key is

    def store(self, blob: bytes, *, key: str, version: int) -> bool:
        """Hold this plan if `version` is newer than the one held."""
        keys = [self.plan_key, self.key_key, self.version_key]
        return bool(self._swap(keys=keys, args=[blob, key, version]))

    def plan(self) -> LotPlan | object:
        """The lot's plan as Redis holds it, or MISSING."""
        key = self.client.get(self.key_key)
        if key is None:
            return MISSING
        held = self._held(key)
        if held is not None:
            return held
        return self._decode(*self.client.mget(self.key_key, self.version_key, self.plan_key))

    async def aplan(self) -> LotPlan | object:
        if self._async is None:
            import redis.asyncio

            self._async = redis.asyncio.Redis.from_url(self.url, socket_timeout=5)
        key = await self._async.get(self.key_key)
        if key is None:
            return MISSING
        held = self._held(key)
        if held is not None:
            return held
        return self._decode(*await self._async.mget(self.key_key, self.version_key, self.plan_key))

    def _held(self, key: Any) -> LotPlan | None:
        """The plan decoded last, if `key` is still its key."""
        decoded = self._decoded
        return decoded if decoded is not None and decoded.key == key.decode() else None

    def _decode(self, key: Any, version: Any, blob: Any) -> LotPlan | object:
        if key is None or version is None or blob is None:
            return MISSING
        found = LotPlan.from_bytes(blob, version=int(version))
        found.key = key.decode()
        self._decoded = found
        return found

    def rebuild(self, engine: Engine, *, settings: Any) -> None:
        """Fill Redis from the database's current plan (after a flush or a new Redis)."""
        from datetime import UTC, datetime

        from fleetlake.charging.plan import current_plan

        with engine.connect() as connection:
            plan = current_plan(connection, settings=settings, now=datetime.now(UTC))
        self.store(plan.to_bytes(), key=plan.key, version=plan.version)
        log.info("rebuilt the lot in Redis from the database: %d cars", len(plan))

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
        self.client.close()
