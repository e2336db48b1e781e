"""Serving throughput at scale: wrk against `fleetlake serve` holding N trips, for trip by id
(random ids) and the weekly average of a region (random regions), with the latency tail.

    uv run --group bench python -m benchmarks.api_wrk --rows 1000000 --db sqlite
    uv run --group bench python -m benchmarks.api_wrk --home /tmp/kept --db sqlite   # reuse

Prints and writes benchmarks/out/api_wrk-<db>-<rows>.json: requests/s and p50/p90/p99 ms,
the median of three runs each. Needs wrk (Debian's `wrk`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import trips_scale as scale
from benchmarks import trips_suite as suite

REGIONS = ("Turin", "Prague", "Hamburg", "Barcelona", "Berlin", "Milan")
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def lua_script(kind: str, trips: int) -> str:
    if kind == "trip_by_id":
        target = f"'/api/v1/trips/' .. math.random(1, {trips})"
    else:
        names = ", ".join(f"'{r}'" for r in REGIONS)
        target = f"'/api/v1/trips/weekly-average?region=' .. ({{{names}}})[math.random(1, 6)]"
    return f"math.randomseed(7)\nrequest = function()\n  return wrk.format('GET', {target})\nend\n"


def wrk_once(url: str, script: Path, *, seconds: int, connections: int) -> dict[str, float]:
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")
    found = {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])}  # type: ignore[index]
    for share in ("50", "90", "99"):
        value, unit = re.search(rf"\s{share}%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
        found[f"p{share}_ms"] = float(value) * UNITS_MS[unit]
    return found


def measure(
    url: str, trips: int, *, seconds: int, connections: int, rounds: int = 3
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for kind in ("trip_by_id", "weekly_average_region"):
        script = Path(tempfile.gettempdir()) / f"fleetlake_{kind}.lua"
        script.write_text(lua_script(kind, trips))
        runs = [
            wrk_once(url, script, seconds=seconds, connections=connections) for _ in range(rounds)
        ]
        found[kind] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    return found


def prepare(rows: int, db: str, home_parent: Path) -> dict[str, str]:
    """A home holding `rows` simulated trips, ingested through the CLI."""
    from fleetlake.simulate.trips import simulate_trips

    env = scale.bench_env(db, home_parent)
    truth = simulate_trips(rows=rows, out=home_parent / "trips.csv", seed=1)
    scale.ingest(env, truth.path, home_parent / "ingest.log")
    scale.settle(db)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, default=None, help="default 1 (SQLite), 2")
    parser.add_argument("--home", type=Path, default=None, help="a kept folder to reuse")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    folder = args.home or Path(tempfile.mkdtemp(prefix="fleetlake-wrk-"))
    if (folder / "env.json").exists():
        env = os.environ | json.loads((folder / "env.json").read_text())
    else:
        env = prepare(args.rows, args.db, folder)
        kept = {k: v for k, v in env.items() if k.startswith("FLEETLAKE_")}
        (folder / "env.json").write_text(json.dumps(kept))
        print(f"prepared {args.rows:,} trips in {folder} (reuse with --home {folder})")
    workers = args.workers or (2 if args.db == "postgres" else 1)
    server = suite.start_server(env, folder / "server.log", workers=workers)
    try:
        found = measure(server.url, args.rows, seconds=args.seconds, connections=args.connections)
    finally:
        server.stop()
    result = {"rows": args.rows, "db": args.db, "workers": workers,
              "machine": f"{platform.node()}, {os.cpu_count()} cores, {platform.python_version()}",
              "connections": args.connections, "seconds": args.seconds, **found}  # fmt: skip
    scale.OUT.mkdir(parents=True, exist_ok=True)
    (scale.OUT / f"api_wrk-{args.db}-{args.rows}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
