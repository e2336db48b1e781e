"""HTTP push: a body of messages landed in bronze before the request is answered."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fleetlake.errors import InvalidParameter
from fleetlake.platform.lake import Lake
from fleetlake.settings import Settings
from fleetlake.telemetry.bronze import BronzeBuffers, LandingRules
from fleetlake.telemetry.fast_path import canonical_ndjson, write_buffer_table
from fleetlake.telemetry.files import messages_in
from fleetlake.telemetry.ingest import land
from fleetlake.telemetry.providers import adapter_for

MAX_REASONS = 100  # rejected messages described in the answer (all are counted and kept)


def land_push(
    body: bytes | bytearray, *, ndjson: bool, provider: str, source: str, settings: Settings
) -> dict[str, Any]:
    """Map and land the body's messages; every record is durable in bronze on return
    (so a 200 means landed: at-least-once for the sender)."""
    if ndjson and provider == "canonical":
        rules = LandingRules.from_settings(settings)
        table = canonical_ndjson(body, received_at=datetime.now(UTC), rules=rules)
        if table is not None:  # every line a plain canonical record: landed in bulk
            write_buffer_table(Lake(settings.resolved_lake_uri), table)
            count = table.num_rows
            return {"source": source, "messages": count, "rows_loaded": count,
                    "rows_quarantined": 0, "rejected": []}  # fmt: skip
    adapter = adapter_for(provider)
    buffers = BronzeBuffers.from_settings(settings)
    result: dict[str, Any] = {
        "source": source,
        "messages": 0,
        "rows_loaded": 0,
        "rows_quarantined": 0,
    }
    messages = list(messages_in(bytes(body), ndjson=ndjson))
    land(messages, adapter=adapter, buffers=buffers, result=result)
    if not ndjson and messages and messages[0].error:  # kept in the quarantine, and said
        raise InvalidParameter("body", f"the body is not JSON ({messages[0].error})")
    result["rejected"] = [
        {"position": r["position"], "reason": r["reason"]}
        for r in buffers.quarantined[:MAX_REASONS]
    ]
    return result
