"""The charging lot at 10,000 cars: the import from a URL, status reads with and without
Redis, and a replan under a site limit.

    uv run --group bench python -m benchmarks.charging --db sqlite
    uv run --group bench python -m benchmarks.charging --db postgres     # two server processes

1. `fleetlake simulate charging --cars N` served over HTTP, `POST /data` → the job's time,
   and its planner time (the job's result);
2. wrk on `GET /vehicle/{plate}` (random parked plates, -c64) with Redis, then with the server
   restarted without a Redis URL (the database answers);
3. the replan alone: `plan.replan` on the parked lot under the site limit, in a transaction
   rolled back (so each run reads the stored plan, as a process does after another one
   wrote) — the planner, and the planner with its reads and writes;
4. departures: cars leaving through the service (replan, commit, Redis refreshed, events).

Writes benchmarks/out/charging-<db>-<cars>.json. Needs wrk and the local Redis.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import random
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from benchmarks import api_wrk, trips_scale
from benchmarks import trips_suite as suite

REDIS_URL = "redis://127.0.0.1:6379/0"


def serve_folder(folder: Path) -> str:
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}"


def import_lot(url: str, key: str, csv_url: str) -> dict[str, Any]:
    started = time.perf_counter()
    job = httpx.post(f"{url}/data", json={"url": csv_url}, headers={"X-API-Key": key}).json()
    with httpx.stream("GET", job["events_url"], timeout=600) as stream:
        assert "event: completed" in "".join(stream.iter_text()), "the import failed"
    seconds = time.perf_counter() - started
    result = httpx.get(f"{url}/api/v1/jobs/{job['id']}").json()["results"][0]
    return {"seconds": round(seconds, 3), "cars": result["rows_loaded"],
            "planner_ms": result["planner_ms"]}  # fmt: skip


def status_wrk(url: str, plates: list[str], *, seconds: int, connections: int) -> dict[str, Any]:
    sample = random.Random(7).sample(plates, min(2000, len(plates)))
    names = ", ".join(f"'{p}'" for p in sample)
    script = Path(tempfile.gettempdir()) / "fleetlake_vehicle.lua"
    script.write_text(
        f"math.randomseed(7)\nlocal plates = {{{names}}}\nrequest = function()\n"
        f"  return wrk.format('GET', '/vehicle/' .. plates[math.random(1, #plates)])\nend\n"
    )
    runs = [api_wrk.wrk_once(url, script, seconds=seconds, connections=connections)
            for _ in range(3)]  # fmt: skip
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def replan_alone(env: dict[str, str], runs: int = 5) -> dict[str, float]:
    """The replan of the parked lot, timed in this process and rolled back each time."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("FLEETLAKE_")})
    from fleetlake.charging.plan import replan
    from fleetlake.platform.db import get_engine
    from fleetlake.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    engine = get_engine(settings.resolved_database_url)
    planner_ms, total_ms = [], []
    for _ in range(runs):
        with engine.connect() as connection:
            started = time.perf_counter()
            with connection.begin() as transaction:
                outcome = replan(connection, settings=settings.charging, now=datetime.now(UTC))
                total_ms.append((time.perf_counter() - started) * 1000)
                transaction.rollback()
            planner_ms.append(outcome.planner_ms)
    return {"planner_ms": round(statistics.median(planner_ms), 1),
            "replan_with_db_ms": round(statistics.median(total_ms), 1)}  # fmt: skip


def departures(env: dict[str, str], plates: list[str], runs: int = 5) -> dict[str, float]:
    """Cars leaving one by one through the service, as `DELETE /vehicle/{plate}` does: the
    replan, its commit, Redis refreshed with every plate, the events appended."""
    from fleetlake.charging.cache import LotCache
    from fleetlake.charging.service import remove_vehicle
    from fleetlake.platform.db import get_engine
    from fleetlake.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    engine = get_engine(settings.resolved_database_url)
    cache = LotCache(REDIS_URL, prefix=f"b{os.getpid()}")
    took = []
    for plate in random.Random(3).sample(plates, runs):
        started = time.perf_counter()
        remove_vehicle(engine, plate=plate, settings=settings.charging, cache=cache,
                       now=datetime.now(UTC))  # fmt: skip
        took.append((time.perf_counter() - started) * 1000)
    return {"departure_ms": round(statistics.median(took), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cars", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--site-limit-kw", type=float, default=20_000.0)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    from fleetlake.simulate.charging import simulate_lot

    folder = Path(tempfile.mkdtemp(prefix="fleetlake-charging-"))
    env = trips_scale.bench_env(args.db, folder)
    key = "bench-key-0123456789"
    env |= {"FLEETLAKE_API_KEYS": key, "FLEETLAKE_ALLOW_PRIVATE_URLS": "true",
            "FLEETLAKE_CHARGING_SITE_LIMIT_KW": str(args.site_limit_kw)}  # fmt: skip
    lot = simulate_lot(cars=args.cars, out=folder / "served" / "lot.csv", seed=1)
    csv_url = f"{serve_folder(folder / 'served')}/lot.csv"
    workers = 2 if args.db == "postgres" else 1
    found: dict[str, Any] = {}
    for redis in (True, False):
        cache = {"FLEETLAKE_REDIS_URL": REDIS_URL, "FLEETLAKE_REDIS_PREFIX": f"b{os.getpid()}"}
        run_env = env | (cache if redis else {})
        server = suite.start_server(run_env, folder / f"server-{redis}.log", workers=workers)
        try:
            if redis:
                found["import"] = import_lot(server.url, key, csv_url)
            plates = [c["plate"] for c in httpx.get(f"{server.url}/api/v1/charging/vehicles",
                                                     timeout=60).json()["data"]]  # fmt: skip
            found["with_redis" if redis else "without_redis"] = status_wrk(
                server.url, plates, seconds=args.seconds, connections=args.connections
            )
        finally:
            server.stop()
    found["replan"] = replan_alone(env) | departures(env, plates)
    result = {"cars": args.cars, "with_departure": lot.with_departure, "db": args.db,
              "workers": workers, "site_limit_kw": args.site_limit_kw,
              "machine": f"{platform.node()}, {os.cpu_count()} cores, {platform.python_version()}",
              **found}  # fmt: skip
    trips_scale.OUT.mkdir(parents=True, exist_ok=True)
    (trips_scale.OUT / f"charging-{args.db}-{args.cars}.json").write_text(
        json.dumps(result, indent=2)
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
