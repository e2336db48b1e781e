"""Telemetry commands: `ingest telemetry`, `telemetry compact`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from fleetlake.cli_common import (
    DetachFlag,
    JsonFlag,
    day_option,
    follow_or_detach,
    open_engine,
    run_job_here,
)

telemetry_app = typer.Typer(no_args_is_help=True, help="Vehicle telemetry: bronze, silver, gold.")


def ingest_telemetry(
    sources: Annotated[
        list[str], typer.Argument(help="NDJSON, JSON, CSV or Parquet files, folders, URLs")
    ],
    provider: Annotated[
        str,
        typer.Option(
            help="canonical, tesla_fleet_api, tesla_fleet_telemetry, bmw_cardata, high_mobility"
        ),
    ] = "canonical",
    mapping: Annotated[
        Path | None, typer.Option(help="A field mapping file (.toml/.json) instead of a provider")
    ] = None,
    force: Annotated[bool, typer.Option(help="Ingest again content already in bronze.")] = False,
    detach: DetachFlag = False,
    json: JsonFlag = False,
) -> None:
    """Land telemetry files in bronze through a provider adapter, with a live progress bar."""
    from fleetlake.settings import get_settings
    from fleetlake.telemetry import service

    engine = open_engine()
    job_id = service.queue_ingestion(
        engine,
        sources=sources,
        settings=get_settings(),
        provider=provider,
        mapping=mapping,
        force=force,
    )
    follow_or_detach(engine, job_id, detach=detach, json=json)


@telemetry_app.command("compact")
def compact(
    day: Annotated[
        date | None, day_option("One UTC day; default every day before today", "--date")
    ] = None,
    json: JsonFlag = False,
) -> None:
    """Compact bronze buffers into one Parquet file per vehicle per day."""
    from fleetlake.telemetry import service

    engine = open_engine()
    job_id = service.queue_compaction(engine, day=day)
    follow_or_detach(engine, job_id, json=json)


@telemetry_app.command("subscribe")
def subscribe(
    mqtt: Annotated[str, typer.Option(help="Broker: mqtt://[user:pass@]host[:port] or mqtts://…")],
    topic: Annotated[list[str], typer.Option(help="Topic filter; repeat for more")],
    provider: Annotated[str, typer.Option(help="Adapter of the payloads")] = "canonical",
    client_id: Annotated[
        str, typer.Option(help="Keep it across restarts: the broker resends what was not landed")
    ] = "fleetlake-telemetry",
    processes: Annotated[
        int, typer.Option(min=1, max=64, help="Subscriber processes sharing the topics")
    ] = 1,
    share: Annotated[
        str | None,
        typer.Option(help="MQTT 5 shared-subscription group (default 'fleetlake' with processes)"),
    ] = None,
) -> None:
    """Land MQTT messages in bronze until stopped (Ctrl-C); at-least-once. With --processes N
    (or --share on several machines) the broker splits the stream among the subscribers."""
    from fleetlake.platform.mqtt_wire import shared_topics

    group = share or ("fleetlake" if processes > 1 else None)
    if processes > 1:
        _run_subscribers(mqtt, topic, provider=provider, client_id=client_id,
                         processes=processes, share=str(group))  # fmt: skip
        return
    _subscribe_here(mqtt, shared_topics(topic, group), provider=provider, client_id=client_id)


def _subscribe_here(mqtt: str, topics: list[str], *, provider: str, client_id: str) -> None:
    import signal
    import threading

    from fleetlake.console import out
    from fleetlake.platform.logs import configure_logging
    from fleetlake.platform.redact import redact_url
    from fleetlake.settings import get_settings
    from fleetlake.telemetry.bronze import BronzeBuffers
    from fleetlake.telemetry.mqtt import MqttSubscription
    from fleetlake.telemetry.providers import adapter_for

    settings = get_settings()
    configure_logging(logs_dir=settings.logs_dir, level=settings.log_level)
    buffers = BronzeBuffers.from_settings(settings)
    subscription = MqttSubscription(
        mqtt, topics, adapter=adapter_for(provider), buffers=buffers, client_id=client_id
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    subscription.start()
    shown = redact_url(mqtt)
    out.print(f"{client_id}: subscribed to {', '.join(topics)} on {shown}; Ctrl-C to stop")
    try:
        while not stop.wait(5.0):
            stats = buffers.stats
            out.print(f"{client_id}: {subscription.received:,} messages, "
                      f"{stats.rows_flushed:,} rows landed")  # fmt: skip
    except KeyboardInterrupt:
        pass
    finally:
        subscription.stop()
    out.print(f"{client_id} stopped: {buffers.stats.rows_flushed:,} rows landed, all acknowledged")


def _run_subscribers(
    mqtt: str, topics: list[str], *, provider: str, client_id: str, processes: int, share: str
) -> None:
    """One subscriber process per share, each with its own persistent session; stopping
    this stops them (each flushes and acknowledges what it holds first)."""
    import signal
    import subprocess
    import sys
    import tempfile

    from fleetlake.platform.mqtt_wire import require_reachable, shared_topics
    from fleetlake.telemetry.providers import adapter_for

    adapter_for(provider)  # what would fail in every process fails here, once
    shared_topics(topics, share)
    require_reachable(mqtt)
    command = [sys.executable, "-m", "fleetlake", "telemetry", "subscribe", "--mqtt", mqtt,
               "--provider", provider, "--share", share]  # fmt: skip
    for name in topics:
        command += ["--topic", name]
    with tempfile.TemporaryFile() as errors:  # the children's errors, said once at the end
        children = [
            subprocess.Popen([*command, "--client-id", f"{client_id}-{n}"], stderr=errors)  # noqa: S603
            for n in range(processes)
        ]

        def stop_all(*_: object) -> None:
            for child in children:
                child.terminate()

        signal.signal(signal.SIGTERM, stop_all)
        try:
            for child in children:
                child.wait()
        except KeyboardInterrupt:
            stop_all()
            for child in children:
                child.wait()
        errors.seek(0)
        for line in dict.fromkeys(errors.read().decode(errors="replace").splitlines()):
            sys.stderr.write(line + "\n")
        if any(child.returncode not in (0, -signal.SIGTERM) for child in children):
            raise typer.Exit(1)


def pipeline_run(
    stage: Annotated[
        list[str] | None, typer.Option(help="silver or gold (repeat for more); default every stage")
    ] = None,
    full_refresh: Annotated[
        bool, typer.Option(help="Recompute everything from bronze (same results)")
    ] = False,
    query_engine: Annotated[
        str | None,
        typer.Option(
            "--engine", help="duckdb or spark (needs fleetlake[spark]); default the setting"
        ),
    ] = None,
    json: JsonFlag = False,
) -> None:
    """Run the telemetry stages over what changed since their last run."""
    from fleetlake.telemetry.pipeline import queue_pipeline

    engine = open_engine()
    job_id = queue_pipeline(
        engine, stages=stage, full_refresh=full_refresh, query_engine=query_engine
    )
    follow_or_detach(engine, job_id, json=json)


@telemetry_app.command("poll")
def poll(
    source: Annotated[str, typer.Argument(help="An [[http]] source's name in the sources file")],
    json: JsonFlag = False,
) -> None:
    """Poll one configured HTTP source once (as a job) into bronze."""
    from fleetlake.settings import get_settings
    from fleetlake.telemetry.poll_job import queue_poll

    engine = open_engine()
    job_id = queue_poll(engine, source=source, settings=get_settings())
    follow_or_detach(engine, job_id, json=json)


DEMO_START = date(2026, 11, 16)
DEMO_SOURCES = """\
# The telemetry sources `fleetlake worker` runs (docs/telemetry.md, "The worker").
# With none, the worker still runs the pipeline and the daily compaction on schedule.
# Secrets are named by environment variable, never written here.
#
# [[mqtt]]
# name = "fleet"
# url = "mqtt://127.0.0.1:1883"
# topics = ["fleet/#"]
#
# [[http]]
# name = "fleet-api"
# url = "https://api.example.com/v1/telemetry"
# token_url = "https://api.example.com/oauth/token"
# client_id = "fleetlake"
# client_secret_env = "FLEET_API_SECRET"
# calls_per_day = 5000
# every_s = 60
"""


def demo_telemetry(engine: Any, *, settings: Any, vehicles: int = 20) -> None:
    """Two days of a simulated fleet (faults included) ingested, compacted and run
    through silver and gold by the real jobs; done again only when its files are new."""
    from fleetlake.console import out, print_job
    from fleetlake.simulate.telemetry_run import FleetSpec, write_files
    from fleetlake.telemetry import service
    from fleetlake.telemetry.pipeline import queue_pipeline

    folder = settings.home_dir / "data" / "fleet"
    if not folder.exists():  # fixed days and seed: the README tour names its VINs and dates
        summary = write_files(folder, FleetSpec(vehicles, 2, DEMO_START, seed=11))
        out.print(f"simulated {summary.messages:,} telemetry messages of {vehicles} vehicles")
    sources_file = settings.resolved_sources_file
    if not sources_file.exists():  # so `fleetlake worker` runs (pipeline and compaction)
        sources_file.write_text(DEMO_SOURCES, encoding="utf-8")
        out.print(f"wrote {sources_file}: add your HTTP and MQTT sources there")
    for job_id in (
        service.queue_ingestion(engine, sources=[str(folder)], settings=settings),
        service.queue_compaction(engine, day=None),
        queue_pipeline(engine, stages=None, full_refresh=False),
    ):
        print_job(run_job_here(engine, job_id))
