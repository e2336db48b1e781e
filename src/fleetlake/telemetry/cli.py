"""Telemetry commands: `ingest telemetry`, `telemetry compact`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from fleetlake.cli_options import DetachFlag, JsonFlag, follow_or_detach

telemetry_app = typer.Typer(no_args_is_help=True, help="Vehicle telemetry: bronze, silver, gold.")


def register(
    app: typer.Typer,
    *,
    ingest_app: typer.Typer,
    simulate_app: typer.Typer,
    pipeline_app: typer.Typer,
) -> None:
    app.add_typer(telemetry_app, name="telemetry")
    app.command("worker")(worker)
    pipeline_app.command("run")(pipeline_run)
    ingest_app.command("telemetry")(ingest_telemetry)
    simulate_app.command("telemetry")(simulate_telemetry)


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
    from fleetlake.cli import open_engine
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
    date: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="One UTC day; default every day before today"),
    ] = None,
    json: JsonFlag = False,
) -> None:
    """Compact bronze buffers into one Parquet file per vehicle per day."""
    from fleetlake.cli import open_engine
    from fleetlake.telemetry import service

    engine = open_engine()
    job_id = service.queue_compaction(engine, day=date.date() if date else None)
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
    from fleetlake.telemetry.mqtt import shared_topics

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
    out.print(f"{client_id}: subscribed to {', '.join(topics)} on {mqtt}; Ctrl-C to stop")
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

    command = [sys.executable, "-m", "fleetlake", "telemetry", "subscribe", "--mqtt", mqtt,
               "--provider", provider, "--share", share]  # fmt: skip
    for name in topics:
        command += ["--topic", name]
    children = [
        subprocess.Popen([*command, "--client-id", f"{client_id}-{n}"])  # noqa: S603
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
    if any(child.returncode not in (0, -signal.SIGTERM) for child in children):
        raise typer.Exit(1)


def simulate_telemetry(
    vehicles: Annotated[int, typer.Option(min=1)] = 10,
    days: Annotated[int, typer.Option(min=1)] = 1,
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"])] = datetime(2026, 11, 16),
    interval_s: Annotated[int, typer.Option(min=1, help="Seconds between messages")] = 10,
    seed: int = 7,
    faults: Annotated[bool, typer.Option(help="Add duplicates, jumps, skew… (logged)")] = True,
    out: Annotated[Path | None, typer.Option(help="Write NDJSON files and the truth here")] = None,
    mqtt: Annotated[str | None, typer.Option(help="Publish to this broker instead")] = None,
    topic_base: str = "fleet",
    serve: Annotated[
        int | None, typer.Option(help="Serve the fleet as a provider API on this port")
    ] = None,
    client_secret: Annotated[
        str | None,
        typer.Option(help="--serve: the OAuth2 secret of client 'fleetlake' (default: random)"),
    ] = None,
) -> None:
    """A realistic EV fleet's telemetry, with the faults real feeds have and its truth."""
    from fleetlake.console import out as console
    from fleetlake.errors import InvalidParameter
    from fleetlake.simulate.telemetry_faults import NO_FAULTS, FaultRates
    from fleetlake.simulate.telemetry_run import FleetSpec, publish_mqtt, write_files

    rates = FaultRates() if faults else NO_FAULTS
    spec = FleetSpec(vehicles, days, start.date(), seed=seed, interval_s=interval_s, rates=rates)
    if [out, mqtt, serve].count(None) != 2:
        raise InvalidParameter("out", "give one of --out DIR, --mqtt URL or --serve PORT")
    if serve is not None:
        _serve_fleet(serve, client_secret=client_secret, spec=spec)
        return
    if out is not None:
        summary = write_files(out, spec)
    else:
        summary = publish_mqtt(str(mqtt), spec, topic_base=topic_base)
    console.print(
        f"{summary.messages:,} messages for {vehicles} vehicles over {days} days "
        f"({summary.truth_rows:,} true observations; faults {summary.faults})"
    )


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
    from fleetlake.cli import open_engine
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
    from fleetlake.cli import open_engine
    from fleetlake.settings import get_settings
    from fleetlake.telemetry.poll_job import queue_poll

    engine = open_engine()
    job_id = queue_poll(engine, source=source, settings=get_settings())
    follow_or_detach(engine, job_id, json=json)


def worker() -> None:
    """Run the sources file's sources continuously, the pipeline every
    FLEETLAKE_PIPELINE_EVERY_S and the compaction after each UTC midnight, until stopped."""
    import signal
    import threading

    from fleetlake.cli import open_engine
    from fleetlake.console import out
    from fleetlake.domains import register_job_kinds
    from fleetlake.settings import get_settings
    from fleetlake.telemetry.worker import Worker

    settings = get_settings()
    engine = open_engine()
    register_job_kinds()
    running = Worker(engine, settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    out.print(
        f"worker: {len(running.config.http)} HTTP and {len(running.config.mqtt)} MQTT sources "
        f"from {settings.resolved_sources_file}; Ctrl-C to stop"
    )
    try:
        running.run(stop)
    except KeyboardInterrupt:
        stop.set()
    out.print(f"worker stopped after {len(running.jobs)} jobs")


def _serve_fleet(port: int, *, client_secret: str | None, spec: Any) -> None:
    import secrets

    import pyarrow as pa
    import uvicorn

    from fleetlake.console import out as console
    from fleetlake.simulate.telemetry_api import telemetry_api
    from fleetlake.simulate.telemetry_run import simulated_days

    days = list(simulated_days(spec))
    messages = pa.concat_tables([delivered for _, _, delivered, _ in days])
    messages = messages.sort_by([("received_at", "ascending")])
    secret = client_secret or secrets.token_urlsafe(12)
    app = telemetry_api(messages, client_id="fleetlake", client_secret=secret)
    console.print(
        f"{messages.num_rows:,} messages on http://127.0.0.1:{port}/api/v1/telemetry "
        f"(OAuth2 token at /oauth/token, client fleetlake, secret {secret}); Ctrl-C to stop"
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def demo_telemetry(engine: Any, *, settings: Any, vehicles: int = 20) -> None:
    """Two days of a simulated fleet (faults included) ingested, compacted and run
    through silver and gold by the real jobs; done again only when its files are new."""
    from datetime import UTC, timedelta
    from datetime import datetime as clock

    from fleetlake.cli import run_job_here
    from fleetlake.console import out, print_job
    from fleetlake.simulate.telemetry_run import FleetSpec, write_files
    from fleetlake.telemetry import service
    from fleetlake.telemetry.pipeline import queue_pipeline

    folder = settings.home_dir / "data" / "fleet"
    if not folder.exists():
        start = clock.now(UTC).date() - timedelta(days=4)  # late deliveries land before today
        summary = write_files(folder, FleetSpec(vehicles, 2, start, seed=11))
        out.print(f"simulated {summary.messages:,} telemetry messages of {vehicles} vehicles")
    for job_id in (
        service.queue_ingestion(engine, sources=[str(folder)], settings=settings),
        service.queue_compaction(engine, day=None),
        queue_pipeline(engine, stages=None, full_refresh=False),
    ):
        print_job(run_job_here(engine, job_id))
