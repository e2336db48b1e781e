"""Incremental scoring throughput: many sensors at one reading per 10 s against 7-day
baselines, scored a few readings at a time as detection rounds do.

    uv run python -m benchmarks.monitoring_throughput [--sensors 1000 --rounds 5
        --per-round 6 --threads 1 --threads 2]

Each sensor has its own baseline (60,480 readings, window 180 at 10 s) and scorer
(`detector.SensorScorer`, despiked as by default); a round pushes `per-round` new readings to
every sensor. The numba kernel releases the GIL, so `--threads 2` scores two sensors at a
time. The baselines' spreads are set, not fitted: the stumpy self-join is a once-per-sensor
cost, measured apart (`fit_one_s`). Reports readings/s per thread count, the resident memory
after set-up and at the end. Writes benchmarks/out/monitoring-throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import numpy as np

from benchmarks.trips_scale import OUT

PERIOD_S = 10
BASELINE = 7 * 86400 // PERIOD_S


def sensor_values(n: int, *, seed: int, start: int = 0) -> np.ndarray:
    t = np.arange(start, start + n) * PERIOD_S / 3600
    rng = np.random.default_rng(seed)
    return (2.0 + 0.15 * np.sin(2 * np.pi * t / 12.42) + 0.05 * np.sin(2 * np.pi * t / 24)
            + rng.normal(0, 0.02, n))  # fmt: skip


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def scorers(count: int, *, m: int, despike: int) -> list[Any]:
    from fleetlake.monitoring.detector import Baseline, Hysteresis, SensorScorer, Thresholds
    from fleetlake.monitoring.distance import Reference

    found = []
    for k in range(count):
        values = sensor_values(BASELINE, seed=k)
        baseline = Baseline(Reference.of(values, m=m), 0.3, 0.05, 0.03, 0.01, 1e-9, despike)
        scorer = SensorScorer(baseline, Hysteresis(Thresholds()))
        scorer.push(sensor_values(m, seed=10_000 + k, start=BASELINE))  # its first window
        found.append(scorer)
    return found


def fit_one(m: int) -> float:
    from fleetlake.monitoring.detector import Baseline

    values = sensor_values(BASELINE, seed=99)
    Baseline.fit(values[: 4 * m + 10], m=m, min_spread=0.01)  # compile first
    started = time.perf_counter()
    Baseline.fit(values, m=m, min_spread=0.01, despike=5)
    return time.perf_counter() - started


def rounds(found: list[Any], *, count: int, per_round: int, threads: int, m: int) -> float:
    """Readings scored per second over `count` rounds."""
    fresh = [sensor_values(count * per_round, seed=20_000 + k, start=BASELINE + m)
             for k in range(len(found))]  # fmt: skip

    def one(k: int, r: int) -> None:
        found[k].push(fresh[k][r * per_round : (r + 1) * per_round])

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for r in range(count):
            list(pool.map(one, range(len(found)), [r] * len(found)))
    return count * per_round * len(found) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sensors", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=6)
    parser.add_argument("--threads", type=int, action="append")
    parser.add_argument("--no-fit", action="store_true", help="skip timing one baseline fit")
    args = parser.parse_args()
    from fleetlake.monitoring.settings import MonitoringSettings
    from fleetlake.platform.numba_cache import prepare

    prepare()
    settings = MonitoringSettings()
    m = settings.window_for(PERIOD_S)
    before = rss_mb()
    started = time.perf_counter()
    found = scorers(args.sensors, m=m, despike=settings.despike_readings)
    result: dict[str, Any] = {
        "sensors": args.sensors, "baseline_readings": BASELINE, "window": m,
        "per_round": args.per_round, "setup_s": round(time.perf_counter() - started, 1),
        "rss_mb_before": round(before), "rss_mb_after_setup": round(rss_mb()),
    }  # fmt: skip
    result["readings_per_s"] = {
        str(t): round(rounds(found, count=args.rounds, per_round=args.per_round, threads=t, m=m))
        for t in (args.threads or [1, 2])
    }  # fmt: skip
    result["rss_mb_end"] = round(rss_mb())
    result["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if not args.no_fit:
        result["fit_one_s"] = round(fit_one(m), 1)
    result |= {"date": datetime.now(UTC).isoformat(timespec="seconds"),
               "machine": f"{platform.node()}, {os.cpu_count()} cores, "
                          f"{platform.python_version()}"}  # fmt: skip
    OUT.mkdir(exist_ok=True)
    target = OUT / "monitoring-throughput.json"
    target.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    print(f"result: {target}")


if __name__ == "__main__":
    main()
