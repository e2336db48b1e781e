"""The lot's CSV: `vehicle,current_charge,total_charge,desired_percentage` and optional
`max_power_kw`, `departure`, `plugged_at`; each row a `ParkedCar` or a reason it was refused."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fleetlake.errors import SourceRejected

REQUIRED = ("vehicle", "current_charge", "total_charge", "desired_percentage")
OPTIONAL = ("max_power_kw", "departure", "plugged_at")
MAX_CAPACITY_KWH = 300.0
MAX_POWER_KW = 1000.0
# Letters and digits of any script, with inner spaces, dots, dashes and underscores.
PLATE = re.compile(r"[^\W_](?:[\w .\-]{0,30}[^\W_])?")


@dataclass(frozen=True)
class ParkedCar:
    plate: str
    charge_kwh: float
    capacity_kwh: float
    desired_pct: float
    max_power_kw: float | None = None
    departure: datetime | None = None
    plugged_at: datetime | None = None
    line: int = 0
    raw: str = ""


@dataclass(frozen=True)
class Refused:
    line: int
    raw: str
    reason: str


class RowError(ValueError):
    """Why one row is refused; the message names the column and the fix."""


def read_rows(path: Path) -> Iterator[ParkedCar | Refused]:
    """Every data row of the file, in order; a bad header or an empty file refuses it whole."""
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as handle:
        yield from parse_rows(handle)


def parse_rows(handle: io.TextIOBase | io.StringIO) -> Iterator[ParkedCar | Refused]:
    reader = csv.reader(handle)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise SourceRejected(f"the first line is not CSV ({exc}): give a CSV file") from None
    if header is None or not any(cell.strip() for cell in header):
        raise SourceRejected("the file is empty: give a CSV with the header " + ",".join(REQUIRED))
    columns = [cell.strip().lower() for cell in header]
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise SourceRejected(
            f"the header {','.join(columns)[:200]!r} lacks {', '.join(missing)}: the first line "
            f"must be {','.join(REQUIRED)} (optionally {', '.join(OPTIONAL)})",
            missing=missing,
        )
    position = {name: columns.index(name) for name in (*REQUIRED, *OPTIONAL) if name in columns}
    line = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a stray carriage return or NUL: this line only
            yield Refused(line=line + 1, raw="", reason=f"not a CSV line: {exc}")
            line = reader.line_num
            continue
        start, line = line + 1, reader.line_num
        if not cells or not any(cell.strip() for cell in cells):
            continue
        try:
            yield parse_row(cells, position, line=start)
        except RowError as exc:
            yield Refused(line=start, raw=",".join(cells)[:2000], reason=str(exc))


def parse_row(cells: list[str], position: dict[str, int], *, line: int) -> ParkedCar:
    def cell(name: str) -> str:
        index = position.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    if len(cells) < len(position):
        raise RowError(f"{len(cells)} fields, the header has {len(position)}")
    plate = cell("vehicle")
    if not plate:
        raise RowError("vehicle is empty: give the car's plate")
    if not PLATE.fullmatch(plate):
        raise RowError(
            f"vehicle {plate[:40]!r} is not a plate: letters and digits, with inner spaces, "
            "dots, dashes or underscores, at most 32"
        )
    current = number(cell("current_charge"), "current_charge")
    total = number(cell("total_charge"), "total_charge")
    desired = number(cell("desired_percentage"), "desired_percentage")
    if not 0 < total <= MAX_CAPACITY_KWH:
        raise RowError(f"total_charge {total:g} kWh is outside (0, {MAX_CAPACITY_KWH:g}]")
    if not 0 <= current <= total:
        raise RowError(f"current_charge {current:g} kWh is outside [0, total_charge {total:g}]")
    if not 0 < desired <= 100:
        raise RowError(f"desired_percentage {desired:g} is outside (0, 100]")
    power = cell("max_power_kw")
    max_power = number(power, "max_power_kw") if power else None
    if max_power is not None and not 0 < max_power <= MAX_POWER_KW:
        raise RowError(f"max_power_kw {max_power:g} is outside (0, {MAX_POWER_KW:g}]")
    return ParkedCar(
        plate=plate,
        charge_kwh=current,
        capacity_kwh=total,
        desired_pct=desired,
        max_power_kw=max_power,
        departure=moment(cell("departure"), "departure"),
        plugged_at=moment(cell("plugged_at"), "plugged_at"),
        line=line,
        raw=",".join(cells)[:2000],
    )


def number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise RowError(f"{name} {text[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise RowError(f"{name} {text[:40]!r} is not a finite number")
    return value


def moment(text: str, name: str) -> datetime | None:
    """An ISO 8601 time; one without a zone is taken as UTC."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise RowError(f"{name} {text[:40]!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not 1970 <= value.year <= 9000:
        raise RowError(f"{name} {text[:40]!r} is not a plausible time")
    return value.astimezone(UTC)
