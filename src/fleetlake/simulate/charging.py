"""A simulated charging lot: the CSV an operator would import, with plausible cars.

Capacities from common EV models, a charge on arrival skewed low, targets of 80-100 %, a
third of the cars with a departure later today or tomorrow morning, some cars limited to
single-phase 7.4 kW or 3.7 kW, and plug-in times over the last hours. Seeded: the same
arguments write the same file.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

# (usable kWh, share of the lot): compact to large EVs
CAPACITIES = ((37.8, 0.15), (52.0, 0.2), (57.5, 0.25), (75.0, 0.25), (82.0, 0.1), (95.0, 0.05))
LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


@dataclass(frozen=True)
class SimulatedLot:
    path: Path
    cars: int
    with_departure: int


def plate(rng: random.Random, taken: set[str]) -> str:
    while True:
        text = (
            "".join(rng.choice(LETTERS) for _ in range(2))
            + f"-{rng.randrange(100, 1000)}-"
            + "".join(rng.choice(LETTERS) for _ in range(2))
        )
        if text not in taken:
            taken.add(text)
            return text


def simulate_lot(
    *, cars: int, out: Path, seed: int = 7, now: datetime | None = None
) -> SimulatedLot:
    """Write `cars` rows to `out`; departures and plug-ins relative to `now`."""
    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    capacities, weights = zip(*CAPACITIES, strict=True)
    taken: set[str] = set()
    departures = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["vehicle", "current_charge", "total_charge", "desired_percentage",
                         "max_power_kw", "departure", "plugged_at"])  # fmt: skip
        for _ in range(cars):
            capacity = rng.choices(capacities, weights)[0]
            soc = min(0.9, rng.betavariate(2, 4))
            desired = rng.choice((80, 80, 80, 90, 100))
            power = rng.choices(("", "7.4", "3.7"), (0.7, 0.25, 0.05))[0]
            departure = ""
            if rng.random() < 1 / 3:
                departures += 1
                departure = (now + timedelta(minutes=rng.randrange(90, 16 * 60))).isoformat()
            plugged = now - timedelta(minutes=rng.randrange(0, 120))
            writer.writerow([plate(rng, taken), round(capacity * soc, 2), capacity, desired,
                             power, departure, plugged.isoformat()])  # fmt: skip
    return SimulatedLot(path=out, cars=cars, with_departure=departures)
