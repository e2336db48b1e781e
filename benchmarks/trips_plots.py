"""Plots and Markdown tables of every trips_scale result in a folder.

uv run --group bench python -m benchmarks.trips_plots benchmarks/out
"""

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
    """A 64-colour PNG: a few KB, small enough to commit with the docs."""
    import matplotlib.pyplot as plt
    from PIL import Image

    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    with Image.open(path) as image:
        image.convert("RGB").quantize(colors=64).save(path, optimize=True)
    return path


VERIFY = {True: "ok", False: "FAILED", None: "not run"}


def _n(rows: int) -> str:
    return f"{rows // 1_000_000} M" if rows >= 1_000_000 else f"{rows // 1000} k"


def ingest_table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| database | trips | ingest | rows/s | vs 2.5 k rows/s | limit (CSV→Parquet + load) "
        "| ratio to limit | peak RSS | pandas.to_sql rows/s | verify |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        i, limits = r["ingest"], r.get("limits", {})
        lines.append(
            f"| {r['db']} | {_n(r['rows'])} | {i['seconds']:.1f} s | {i['rows_per_s']:,.0f} "
            f"| {i['vs_baseline']:.0f}x | {limits.get('total_s', float('nan')):.1f} s "
            f"| {i.get('vs_limit', float('nan')):.2f}x | {i['peak_rss_mib']:,.0f} MiB "
            f"| {limits.get('pandas_to_sql', {}).get('rows_per_s', float('nan')):,.0f} "
            f"| {VERIFY[r['verify_ok']]} |"
        )
    return "\n".join(lines)


def limits_table(results: list[dict[str, Any]]) -> str:
    names = ["csv_to_parquet", "binary_copy", "adbc_ingest", "text_copy", "row_by_row"]
    names += ["executemany", "pandas_to_sql"]
    lines = ["| database | trips | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for r in results:
        found = r.get("limits", {})
        cells = [f"{found[n]['rows_per_s'] / 1000:,.0f} k" if n in found else "" for n in names]
        lines.append(f"| {r['db']} | {_n(r['rows'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def query_table(results: list[dict[str, Any]]) -> str:
    """p95 (ms) per query and size, idle / during a concurrent ingestion."""
    columns = [(r["db"], r["rows"]) for r in results]
    header = "| query (p95 ms, idle / during ingest) | " + " | ".join(
        f"{db} {_n(rows)}" for db, rows in columns
    )
    lines = [header + " |", "|---|" + "---|" * len(columns)]
    for name in results[0]["queries_ms"]:
        cells = []
        for r in results:
            during = r.get("during_ingest", {}).get("queries_ms", {}).get(name)
            idle = r["queries_ms"][name]["p95"]
            cells.append(f"{idle:.1f} / {during['p95']:.1f}" if during else f"{idle:.1f}")
        lines.append(f"| {name.removeprefix('weekly_average_')} | " + " | ".join(cells) + " |")
    throughput = [r.get("trip_by_id_requests_per_s") for r in results]
    lines.append(
        "| trip by id, wrk req/s | "
        + " | ".join(f"{t:,.0f}" if t else "n/a" for t in throughput)
        + " |"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/out")
    for path in write_plots(folder):
        print(path)
    found = load_results(folder)
    print(ingest_table(found), limits_table(found), query_table(found), sep="\n\n")
