"""Plots of every trips_scale result in a folder: ingest rows/s and query p95 against rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PLOTTED_QUERIES = (
    "weekly_average_region",
    "weekly_average_bbox_city_either",
    "weekly_average_bbox_continent_both",
    "groups_top50",
    "vehicles_region_source_date",
    "trip_by_id",
)


def load_results(folder: Path) -> list[dict[str, Any]]:
    results = [json.loads(p.read_text()) for p in sorted(folder.glob("trips_scale-*.json"))]
    return sorted(results, key=lambda r: (r["db"], r["rows"]))


def write_plots(folder: Path) -> list[Path]:
    """trips_scale_ingest.png and trips_scale_queries.png (log-log), small enough to commit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = load_results(folder)
    if not results:
        return []
    written = []
    figure, axis = plt.subplots(figsize=(5, 3.2), dpi=90)
    for db in sorted({r["db"] for r in results}):
        mine = [r for r in results if r["db"] == db]
        axis.plot(
            [r["rows"] for r in mine], [r["ingest"]["rows_per_s"] for r in mine], "o-", label=db
        )
    axis.set(xscale="log", yscale="log", xlabel="trips", ylabel="ingest rows/s")
    axis.set_title("Ingestion rate against size", fontsize=10)
    axis.legend(fontsize=8)
    written.append(_save(figure, folder / "trips_scale_ingest.png"))

    figure, axes = plt.subplots(1, 2, figsize=(8, 3.4), dpi=90, sharey=True)
    for axis, db in zip(axes, ("sqlite", "postgres"), strict=True):
        mine = [r for r in results if r["db"] == db]
        for name in PLOTTED_QUERIES:
            points = [(r["rows"], r["queries_ms"][name]["p95"]) for r in mine]
            if points:
                axis.plot(*zip(*points, strict=True), "o-", label=name, linewidth=1)
        axis.set(xscale="log", yscale="log", xlabel="trips", title=db)
    axes[0].set_ylabel("p95 latency (ms, HTTP)")
    labelled = next((axis for axis in axes[::-1] if axis.get_lines()), None)
    if labelled is not None:
        labelled.legend(fontsize=6)
    written.append(_save(figure, folder / "trips_scale_queries.png"))
    return written


def _save(figure: Any, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return path


if __name__ == "__main__":
    import sys

    for path in write_plots(Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/out")):
        print(path)
