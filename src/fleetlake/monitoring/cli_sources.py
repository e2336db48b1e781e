"""`fleetlake monitoring subscribe|poll|compact`: readings from a broker or a timeseries API,
and silver's small files compacted."""

from __future__ import annotations

from typing import Annotated

import typer

from fleetlake.cli_common import JsonFlag, follow_or_detach, open_engine
from fleetlake.monitoring.cli import monitoring_app


@monitoring_app.command("subscribe")
def subscribe(
    mqtt: Annotated[str, typer.Option(help="mqtt://[user:pass@]host[:1883] or mqtts://…")],
    topic: Annotated[
        list[str], typer.Option(help="Topic filter whose last level is the sensor, e.g. gas/+")
    ],
    client_id: Annotated[str, typer.Option(help="Persistent session's id")] = (
        "fleetlake-monitoring"
    ),
) -> None:
    """Land readings from MQTT (a topic per sensor) until Ctrl-C; at-least-once."""
    import signal
    import threading

    from fleetlake.console import out
    from fleetlake.monitoring.mqtt import ReadingsSubscription
    from fleetlake.platform.lake import Lake
    from fleetlake.platform.redact import redact_url
    from fleetlake.settings import get_settings

    settings = get_settings()
    subscription = ReadingsSubscription(
        mqtt, topic, engine=open_engine(), lake=Lake(settings.resolved_lake_uri),
        client_id=client_id, land_every_s=settings.monitoring.land_every_s,
    )  # fmt: skip
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    subscription.start()
    out.print(f"subscribed to {', '.join(topic)} on {redact_url(mqtt)}; Ctrl-C to stop")
    try:
        while not stop.wait(10.0):
            out.print(f"{subscription.received:,} messages, {subscription.landed:,} readings "
                      f"landed, {subscription.quarantined:,} quarantined")  # fmt: skip
    except KeyboardInterrupt:
        pass
    finally:
        subscription.stop()
    out.print(f"stopped: {subscription.landed:,} readings landed, all acknowledged")


@monitoring_app.command("poll")
def poll(
    source: Annotated[
        str, typer.Argument(help="A [[monitoring.omnia]] source's name in the sources file")
    ],
    json: JsonFlag = False,
) -> None:
    """Poll one configured Omnia-shaped timeseries API once (as a job).

    Every sensor with a source_id is polled from its cursor on."""
    from fleetlake.monitoring.poll_job import queue_poll
    from fleetlake.settings import get_settings

    engine = open_engine()
    follow_or_detach(engine, queue_poll(engine, source=source, settings=get_settings()),
                     json=json)  # fmt: skip


@monitoring_app.command("compact")
def compact() -> None:
    """Make silver's small files one per sensor-day (the worker does it on its own)."""
    from datetime import UTC, datetime

    from fleetlake.console import out
    from fleetlake.monitoring.compaction import compact_silver
    from fleetlake.platform.lake import Lake
    from fleetlake.settings import get_settings

    lake = Lake(get_settings().resolved_lake_uri)
    found = compact_silver(lake, today=datetime.now(UTC).date())
    out.print(f"compacted {found['files']:,} files into {found['days']:,} sensor-days")
