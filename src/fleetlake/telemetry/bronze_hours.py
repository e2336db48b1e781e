"""Which UTC hours each bronze file holds, so that silver reads only the files of the hours
it recomputes.

Bronze is one folder per vehicle and day (buffer files, then one compacted file); a file's
hours come from its Parquet footer (the min and max of `ts`), read once and kept per day in
`_state/telemetry/bronze_hours/date=D.json` as {path: [modified, first hour, last hour, rows]}.
A compacted file whose rows were all seen before is `known`: it brings no new rows, so nothing
to redo. That is so when the buffer files it merged (named in its metadata) were all seen and
its row count is exactly theirs plus that of the version of it seen before; anything else (a
compaction the state never saw in between) makes its hours be recomputed.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from fleetlake.platform.failures import working_on
from fleetlake.platform.lake import Lake
from fleetlake.telemetry.bronze import BUFFER
from fleetlake.telemetry.compaction import MERGED_KEY

BRONZE = ("bronze", "telemetry")
STATE = ("_state", "telemetry", "bronze_hours")
COMPACTED = re.compile(r"/date=(\d{4}-\d{2}-\d{2})/([^/]+)\.parquet$")
BUFFERED = re.compile(r"/_buffer/([^/]+)/date=(\d{4}-\d{2}-\d{2})/[^/]+\.parquet$")
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class BronzeFile:
    path: str
    vin: str
    day: date
    modified: float


@dataclass(frozen=True)
class Span:
    modified: float
    first: datetime  # hour starts, UTC
    last: datetime
    rows: int

    def hours(self) -> list[datetime]:
        count = int((self.last - self.first) / HOUR) + 1
        return [self.first + i * HOUR for i in range(count)]


def bronze_files(lake: Lake) -> list[BronzeFile]:
    """Every bronze data file with its vehicle, day and modification time."""
    found = []
    for path, modified in lake.modified_files(*BUFFER).items():
        if match := BUFFERED.search(path):
            found.append(BronzeFile(path, match[1], date.fromisoformat(match[2]), modified))
    for path, modified in lake.modified_files(*BRONZE).items():
        if match := COMPACTED.search(path):
            found.append(BronzeFile(path, match[2], date.fromisoformat(match[1]), modified))
    return found


class HourIndex:
    """The spans of the bronze files of some days, read from state or from footers."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self.spans: dict[date, dict[str, Span]] = {}
        self.stored: dict[date, dict[str, Span]] = {}

    def load(self, files: Iterable[BronzeFile]) -> None:
        by_day: dict[date, list[BronzeFile]] = defaultdict(list)
        for file in files:
            by_day[file.day].append(file)
        for day, day_files in by_day.items():
            if day not in self.stored:
                self.stored[day] = self._read_state(day)
            stored = self.stored[day]
            spans = self.spans.setdefault(day, {})
            for file in day_files:
                known = stored.get(file.path)
                if known and known.modified == file.modified:
                    spans[file.path] = known
                    continue
                with working_on(file=file.path):
                    spans[file.path] = self._span(file)

    def is_known(self, file: BronzeFile) -> bool:
        """Whether the file brings no rows the stored state has not seen already."""
        stored = self.stored.get(file.day, {})
        if (known := stored.get(file.path)) and known.modified == file.modified:
            return True
        if "/_buffer/" in file.path:
            return False
        folder = f"{self.lake.path(*BUFFER, file.vin)}/date={file.day}/"
        seen = {posixpath.basename(p): s.rows for p, s in stored.items() if p.startswith(folder)}
        merged = self._merged(file.path)
        if not merged or not merged <= seen.keys():
            return False
        before = known.rows if known else 0
        return self.spans[file.day][file.path].rows == before + sum(seen[n] for n in merged)

    def save(self) -> None:
        for day, spans in self.spans.items():
            value = {
                path: [s.modified, s.first.isoformat(), s.last.isoformat(), s.rows]
                for path, s in spans.items()
            }
            self.lake.write_json(value, *STATE, f"date={day}.json")

    def _read_state(self, day: date) -> dict[str, Span]:
        value = self.lake.read_json(*STATE, f"date={day}.json", default={})
        return {
            path: Span(m, datetime.fromisoformat(first), datetime.fromisoformat(last), rows)
            for path, (m, first, last, rows) in value.items()
        }

    def _span(self, file: BronzeFile) -> Span:
        """The file's first and last hour from its footer (the whole day without statistics)."""
        import pyarrow.parquet as pq

        start = datetime(file.day.year, file.day.month, file.day.day, tzinfo=UTC)
        with self.lake.fs.open(file.path, "rb") as handle:
            meta = pq.read_metadata(handle)
        column = meta.schema.to_arrow_schema().get_field_index("ts")
        low, high = None, None
        for i in range(meta.num_row_groups):
            stats = meta.row_group(i).column(column).statistics
            if stats is None or not stats.has_min_max:
                return Span(file.modified, start, start + 23 * HOUR, meta.num_rows)
            low = stats.min if low is None else min(low, stats.min)
            high = stats.max if high is None else max(high, stats.max)
        if low is None or high is None:
            return Span(file.modified, start, start, 0)
        return Span(file.modified, _hour_of(low), _hour_of(high), meta.num_rows)

    def _merged(self, path: str) -> set[str]:
        import pyarrow.parquet as pq

        with self.lake.fs.open(path, "rb") as handle:
            metadata = pq.read_schema(handle).metadata or {}
        return set(json.loads(metadata.get(MERGED_KEY, b"[]")))


def _hour_of(value: datetime) -> datetime:
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
