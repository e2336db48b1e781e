"""The daily top-speeds report: a CSV and a readable HTML page under `<home>/reports/`."""

from __future__ import annotations

import csv
import html
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from fleetlake.errors import NotFound

COLUMNS = ("hour", "rank", "vin", "speed_kmh", "ts", "lat", "lon")


def write_top_speeds_report(ranked: pa.Table | None, *, day: date, reports_dir: Path) -> None:
    reports_dir.mkdir(parents=True, exist_ok=True)
    rows = [] if ranked is None else ranked.select(list(COLUMNS)).to_pylist()
    _atomic(reports_dir / f"top-speeds-{day}.csv", _csv(rows))
    _atomic(reports_dir / f"top-speeds-{day}.html", _html(rows, day))


def top_speeds_report(*, day: date, kind: str, reports_dir: Path) -> Path:
    """The day's report file (`kind` csv or html), written by the pipeline's gold stage."""
    path = reports_dir / f"top-speeds-{day}.{kind}"
    if not path.is_file():
        raise NotFound(
            f"no top-speeds report for {day}: ingest that day's telemetry and run "
            "`fleetlake pipeline run`",
            field="date",
        )
    return path


def _atomic(path: Path, text: str) -> None:
    temp = path.with_suffix(path.suffix + ".tmp")
    temp.write_text(text, encoding="utf-8")
    temp.replace(path)


def _cell(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return "" if value is None else str(value)


def _csv(rows: list[dict[str, Any]]) -> str:
    from io import StringIO

    out = StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in COLUMNS])
    return out.getvalue()


def _html(rows: list[dict[str, Any]], day: date) -> str:
    body = []
    for hour in sorted({row["hour"] for row in rows}):
        body.append(f"<h2>{hour:%H}:00 UTC</h2><table><tr>" + "".join(
            f"<th>{c}</th>" for c in COLUMNS[1:]) + "</tr>")  # fmt: skip
        for row in (r for r in rows if r["hour"] == hour):
            cells = [f"{row['rank']}", html.escape(row["vin"]), f"{row['speed_kmh']:.1f}",
                     f"{row['ts']:%H:%M:%S}", _cell(row["lat"]), _cell(row["lon"])]  # fmt: skip
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        body.append("</table>")
    empty = "" if rows else "<p>No valid speed was reported this day.</p>"
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Top speeds {day}</title><style>body{{font-family:sans-serif}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px}</style>"
        f"</head><body><h1>The {10} fastest vehicles of each hour, {day}</h1>"
        "<p>Each vehicle once per hour, ranked by its highest valid speed (km/h); ties: the "
        f"earlier time, then the VIN.</p>{empty}{''.join(body)}</body></html>\n"
    )
