"""The app factory: one engine, one job runner, one webhook dispatcher per process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from fleetlake import __version__
from fleetlake.api.deps import Reads
from fleetlake.api.errors import install_error_handlers
from fleetlake.api.openapi import describe
from fleetlake.api.schemas import Health, ok
from fleetlake.platform.lake import Lake
from fleetlake.settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = start_services(settings)
        app.state.engine, app.state.runner, dispatcher = state
        app.state.reads = Reads(app.state.engine, anyio.CapacityLimiter(settings.read_threads))
        app.state.lot_cache, clock = start_charging(app.state.engine, settings)
        try:
            yield
        finally:
            clock.stop()
            dispatcher.stop()
            app.state.runner.shutdown()
            if app.state.lot_cache is not None:
                await app.state.lot_cache.aclose()

    app = FastAPIOffline(  # Swagger UI and ReDoc from the package: /docs works offline
        title="fleetlake",
        version=__version__,
        summary="Fleet and sensor telemetry: ingestion, lake, SQL serving, pushed job events.",
        lifespan=lifespan,
        static_url="/static/api-docs",
    )
    app.state.settings = settings
    app.state.lake = Lake(settings.resolved_lake_uri)
    install_error_handlers(app)
    _mount_routers(app)
    from fleetlake.charging.fast_status import FastStatus

    app.add_middleware(FastStatus)
    describe(app, settings)
    return app


def start_services(settings: Settings) -> tuple[Any, Any, Any]:
    """Schema check, crash recovery, job runner, webhooks, cross-process events."""
    from fleetlake.domains import register_job_kinds
    from fleetlake.platform.db import (
        get_engine,
        plan_for_many_small_queries,
        require_current_schema,
    )
    from fleetlake.platform.events import bus
    from fleetlake.platform.jobs import JobRunner
    from fleetlake.platform.logs import configure_logging
    from fleetlake.platform.recovery import recover_interrupted
    from fleetlake.platform.webhooks import WebhookDispatcher

    configure_logging(logs_dir=settings.logs_dir, level=settings.log_level)
    register_job_kinds()
    engine = get_engine(settings.resolved_database_url)
    plan_for_many_small_queries(engine)
    require_current_schema(engine)
    interrupted = recover_interrupted(engine)
    if interrupted:
        log.warning("marked interrupted jobs as failed: %s", interrupted)
    if engine.dialect.name == "postgresql":
        bus.listen_postgres(engine)
    dispatcher = WebhookDispatcher.from_settings(engine, settings)
    dispatcher.start()
    runner = JobRunner(
        engine, workers=settings.job_workers, logs_dir=settings.logs_dir, nice=settings.job_nice
    )
    return engine, runner, dispatcher


def start_charging(engine: Any, settings: Settings) -> tuple[Any, Any]:
    """The lot's Redis cache (when configured) and the clock that pushes `vehicle.ready`."""
    from fleetlake.charging.events import LotClock
    from fleetlake.charging.ingest import cache_for
    from fleetlake.charging.lot_plan import LotPlan

    # pyarrow imports pandas on first use where it is installed (~1 s): now, not in a request
    LotPlan.from_bytes(LotPlan.empty().to_bytes(), version=0).soc_at(0.0)
    clock = LotClock(engine, settings=settings.charging)
    clock.start()
    return cache_for(settings), clock


def _mount_routers(app: FastAPI) -> None:
    from fleetlake.api import jobs, webhooks
    from fleetlake.charging import api as charging_api
    from fleetlake.charging import compat as charging_compat
    from fleetlake.monitoring import alarms_api as monitoring_alarms
    from fleetlake.monitoring import api as monitoring_api
    from fleetlake.telemetry import api as telemetry_api
    from fleetlake.trips import api as trips_api
    from fleetlake.trips import compat as trips_compat
    from fleetlake.web import routes as web_routes

    for module in (trips_api, trips_compat, telemetry_api, charging_api, charging_compat,
                   monitoring_api, monitoring_alarms, jobs, webhooks, web_routes):  # fmt: skip
        app.include_router(module.router)
    web_routes.mount_static(app)

    @app.get("/api/v1/health", tags=["meta"], response_model=None, responses=ok(Health))
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}
