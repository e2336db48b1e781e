"""One power plan for the whole lot under the site limit.

The plan runs forward in steps; in each step every car gets a cap (kW) it draws up to
(min(cap, P(s)): a tapering car draws less, never more), and the caps never sum above the
site limit, so the lot never draws more than the limit at any instant. Each step:

1. cars with a departure whose laxity (time left - time to target at full power) runs out
   within the step get full power first, least laxity first (zero-laxity rule: EDF alone
   misses deadlines that cars sharing the power would meet);
2. the other cars with a departure, earliest deadline first, each at full power while it lasts;
3. the rest share what is left equally (water-filling under each car's own limit); when the
   share would be below the minimum power, as many cars as can have it charge (first plugged
   first) and the others pause.

A step ends at the first event (a car reaching its target, a departure, a laxity running
out) but lasts at least a minimum that grows with the distance into the future (one minute
now, an hour from twelve hours out), so that 10,000 cars plan in about a hundred steps;
within a step each car's charge follows the closed form exactly, so every estimate follows
the plan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetlake.charging import model

EPS_PCT = 1e-9
MAX_STEPS = 20_000
MINUTE_H, FIVE_MINUTES_H = 1 / 60, 5 / 60
SETPOINT_KW = 0.1


@dataclass
class Lot:
    """The parked cars, one array entry each, times in hours from now."""

    soc_pct: np.ndarray
    target_pct: np.ndarray
    capacity_kwh: np.ndarray
    power_kw: np.ndarray  # the lower of charger and car
    efficiency: np.ndarray
    taper_start_pct: np.ndarray
    slope: np.ndarray
    deadline_h: np.ndarray  # inf: no departure given
    order: np.ndarray  # first plugged first, among cars that share

    def __len__(self) -> int:
        return len(self.soc_pct)

    def curve(self, index: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "capacity_kwh": self.capacity_kwh[index],
            "power_kw": self.power_kw[index],
            "efficiency": self.efficiency[index],
            "taper_start_pct": self.taper_start_pct[index],
            "slope": self.slope[index],
        }


@dataclass
class SegmentTable:
    """Every car's segments (start_h, end_h, cap_kw, soc at start) in one array, grouped by
    car in time order: car i's are rows[offsets[i]:offsets[i + 1]]."""

    rows: np.ndarray
    offsets: np.ndarray

    def __getitem__(self, car: int) -> np.ndarray:
        return self.rows[self.offsets[car] : self.offsets[car + 1]]

    def __len__(self) -> int:
        return len(self.offsets) - 1


@dataclass
class Plan:
    """Per car: hours to ready (nan: not by its departure), charge at the end (ready or
    departure), whether it reaches the target, power now, and its segments."""

    ready_h: np.ndarray
    end_soc_pct: np.ndarray
    reaches_target: np.ndarray
    power_now_kw: np.ndarray
    segments: SegmentTable
    peak_kw: float
    steps: int
    load: list[tuple[float, float]]  # (hours from now, the lot's draw then), each step start


def min_step_h(t_h: float) -> float:
    return float(np.clip(t_h / 12.0, 1 / 60, 1.0))


POLICIES = ("zero-laxity", "least-laxity", "earliest-deadline")


def plan_lot(lot: Lot, *, site_limit_kw: float | None, min_power_kw: float) -> Plan:
    """The lot's plan from now; without a limit each car charges at its own full power.

    The zero-laxity plan is tried first; if it leaves a car short of its target at its
    departure, the least-laxity and earliest-deadline orders are planned too and the plan
    that misses fewest departures (then delivers most to those it misses) is kept: no single
    order meets every feasible set of deadlines under a shared limit and per-car limits."""
    if site_limit_kw is None:
        return _unlimited(lot)
    last_departure = float(np.max(lot.deadline_h[np.isfinite(lot.deadline_h)], initial=0.0))
    best = _Planner(lot, site_limit_kw, min_power_kw, policy=POLICIES[0],
                    fine_until_h=last_departure, fine_step_h=FIVE_MINUTES_H).run()  # fmt: skip
    alone = _unlimited(lot).reaches_target  # who could make it with the lot to itself
    if best.reaches_target[alone].all():
        return best
    # Minute steps up to the last departure: coarser steps are what cost those deadlines.
    for policy in POLICIES:
        other = _Planner(lot, site_limit_kw, min_power_kw, policy=policy,
                         fine_until_h=last_departure, fine_step_h=MINUTE_H).run()  # fmt: skip
        if _score(other, alone) > _score(best, alone):
            best = other
    return best


def _score(plan: Plan, alone: np.ndarray) -> tuple[int, float]:
    missed = alone & ~plan.reaches_target
    return (-int(missed.sum()), float(plan.end_soc_pct[missed].sum()))


def _unlimited(lot: Lot) -> Plan:
    n = len(lot)
    everyone = np.arange(n)
    curve = lot.curve(everyone)
    full = lot.power_kw
    to_target = model.hours_between(lot.soc_pct, lot.target_pct, cap_kw=full, **curve)
    reaches = to_target <= lot.deadline_h
    end_h = np.minimum(to_target, lot.deadline_h)
    end_soc = np.where(
        reaches,
        np.maximum(lot.soc_pct, lot.target_pct),
        model.soc_after(lot.soc_pct, end_h, cap_kw=full, **curve),
    )
    charging = lot.soc_pct < lot.target_pct - EPS_PCT
    now = np.where(charging, model.power_at(lot.soc_pct, cap_kw=full, **curve), 0.0)
    some = end_h > 0
    rows = np.column_stack((np.zeros(n), end_h, full, lot.soc_pct))[some]
    segments = SegmentTable(rows, np.concatenate(([0], np.cumsum(some))))
    return Plan(
        ready_h=np.where(reaches, to_target, np.nan),
        end_soc_pct=end_soc,
        reaches_target=reaches,
        power_now_kw=now,
        segments=segments,
        peak_kw=float(now.sum()),
        steps=1,
        load=[(0.0, float(now.sum()))],
    )


@dataclass
class Step:
    """One step's arrays, one entry per live car."""

    caps: np.ndarray
    full: np.ndarray  # the draw at full power at the step's start
    dated: np.ndarray  # has a departure
    to_target: np.ndarray  # hours to target at its cap (inf: not charging)
    events: np.ndarray  # hours to its target or departure, whichever first
    curve: dict[str, np.ndarray]


class _Planner:
    def __init__(
        self,
        lot: Lot,
        limit_kw: float,
        min_power_kw: float,
        *,
        policy: str,
        fine_until_h: float = 0.0,
        fine_step_h: float = MINUTE_H,
    ) -> None:
        self.lot, self.limit, self.min_power = lot, limit_kw, min_power_kw
        self.policy, self.fine_until_h, self.fine_step_h = policy, fine_until_h, fine_step_h
        n = len(lot)
        self.soc = lot.soc_pct.astype(float).copy()
        self.ready_h = np.where(self.soc >= lot.target_pct - EPS_PCT, 0.0, np.nan)
        self.end_soc = self.soc.copy()
        self.power_now = np.zeros(n)
        # Cars with a departure: hours to target at full power (for their laxity), falling by
        # the time charged at full power, kept while paused, recomputed after part power.
        self.full_h = model.hours_between(self.soc, lot.target_pct, cap_kw=lot.power_kw,
                                          **lot.curve(np.arange(n)))  # fmt: skip
        # Each car's open segment (start_h nan: none); closed ones go to `records`.
        self.open_start, self.open_cap, self.open_soc = (np.full(n, np.nan) for _ in range(3))
        self.records: list[tuple[np.ndarray, ...]] = []  # car, start_h, end_h, cap_kw, soc
        # Cars with a departure, earliest first: the EDF rank, fixed for the whole plan.
        dated = np.flatnonzero(np.isfinite(lot.deadline_h))
        self.by_deadline = dated[np.argsort(lot.deadline_h[dated], kind="stable")]
        self.peak = 0.0
        self.load: list[tuple[float, float]] = []

    def run(self) -> Plan:
        lot, t, steps = self.lot, 0.0, 0
        live = np.flatnonzero(np.isnan(self.ready_h) & (lot.deadline_h > 0))
        contested = True  # some car with a departure gets less than its full power
        while live.size and steps < MAX_STEPS:
            # Fine steps while departures compete for the limit; once every car with one has
            # its full power it keeps it (draws only fall, no car arrives within a plan).
            fine = contested and t < self.fine_until_h
            step = min(self.fine_step_h, min_step_h(t)) if fine else min_step_h(t)
            curve = lot.curve(live)
            caps, full, dated, contested = self._allocate(live, t, curve, lookahead_h=4 * step)
            known = (caps >= full - 1e-12) & (caps > 0) & dated
            other = (caps > 0) & ~known
            to_target = np.full(live.size, np.inf)
            to_target[known] = self.full_h[live[known]]
            to_target[other] = model.hours_between(
                self.soc[live[other]], lot.target_pct[live[other]], cap_kw=caps[other],
                **{name: values[other] for name, values in curve.items()},
            )  # fmt: skip
            events = np.minimum(to_target, lot.deadline_h[live] - t)  # reaching target, leaving
            dt = max(step, float(events.min())) if events.size else step
            dt = min(dt, self.fine_step_h if fine else 4 * step)
            if steps == 0:
                self.power_now[live] = model.power_at(self.soc[live], cap_kw=caps, **curve)
            drawn = float(caps.sum())
            self.peak = max(self.peak, drawn)
            if not self.load or abs(self.load[-1][1] - drawn) > 1e-9:
                self.load.append((t, drawn))  # caps ≤ full draws: the draw at t
            if drawn <= 0:  # nobody can charge now, and nothing will change that
                break
            live = self._advance(live, t, dt, Step(caps, full, dated, to_target, events, curve))
            t += dt
            steps += 1
        return self._plan(steps, end_h=t)

    def _allocate(
        self, live: np.ndarray, t: float, curve: dict[str, np.ndarray], *, lookahead_h: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """Each live car's cap for this step, its full draw now, whether it has a departure,
        and whether any car with a departure gets less than its full draw."""
        lot = self.lot
        full = model.power_at(self.soc[live], cap_kw=lot.power_kw[live], **curve)
        deadline = lot.deadline_h[live]
        has_deadline = np.isfinite(deadline)
        laxity = np.full(live.size, np.inf)
        dated = np.flatnonzero(has_deadline)
        laxity[dated] = deadline[dated] - t - self.full_h[live[dated]]
        critical = (laxity <= lookahead_h) & (laxity >= -1e-9)  # inf (no departure): never
        caps = np.zeros(live.size)
        left, contested = self.limit, False
        ranked = self._ranked(live, has_deadline, laxity, critical)
        if ranked.size:
            wants = full[ranked]
            before = np.concatenate(([0.0], np.cumsum(wants)[:-1]))
            given = np.clip(left - before, 0.0, wants)
            given[(given < wants) & (given < self.min_power)] = 0.0
            caps[ranked] = given
            left = max(0.0, left - float(given.sum()))
            contested = bool(np.any(given < wants - 1e-12))
        sharing = np.flatnonzero(~has_deadline)
        if sharing.size and left > 0:
            wants = full[sharing]
            shares = self._share(wants, lot.order[live[sharing]], left)
            # A share is a charger set-point: floored to 0.1 kW, which also keeps a car's cap
            # steady while the share drifts (fewer segments to store).
            partial = shares < wants - 1e-12
            shares[partial] = np.floor(shares[partial] / SETPOINT_KW + 1e-9) * SETPOINT_KW
            shares[partial & (shares < self.min_power)] = 0.0
            caps[sharing] = shares
        return caps, full, has_deadline, contested

    def _ranked(
        self, live: np.ndarray, has_deadline: np.ndarray, laxity: np.ndarray, critical: np.ndarray
    ) -> np.ndarray:
        """Positions in `live` of its cars with a departure, in the policy's order."""
        if self.policy == "least-laxity":
            ranked = np.flatnonzero(has_deadline)
            return ranked[np.argsort(laxity[ranked], kind="stable")]
        position = np.full(len(self.lot), -1)
        position[live] = np.arange(live.size)
        edf = position[self.by_deadline]
        edf = edf[edf >= 0]
        if self.policy == "earliest-deadline":
            return edf
        # zero-laxity: the critical first (least laxity first), then the others by deadline
        first = np.flatnonzero(critical)
        first = first[np.argsort(laxity[first], kind="stable")]
        return np.concatenate((first, edf[~critical[edf]]))

    def _share(self, wants: np.ndarray, order: np.ndarray, budget: float) -> np.ndarray:
        """Equal shares of `budget` under each car's own limit; if a share would fall below
        the minimum power, only as many cars as can have it charge, first plugged first."""
        caps = np.zeros(wants.size)
        if wants.sum() <= budget:
            return wants.copy()
        seats = wants.size
        if self.min_power > 0:
            seats = min(seats, int(budget // self.min_power + 1e-9))
        if seats <= 0:
            return caps
        chosen = np.argpartition(order, seats - 1)[:seats] if seats < order.size else slice(None)
        caps[chosen] = water_fill(wants[chosen], budget)
        return caps

    def _advance(self, live: np.ndarray, t: float, dt: float, step: Step) -> np.ndarray:
        """Charge every live car through the step; the cars still live after it."""
        lot, caps, full, dated, curve = self.lot, step.caps, step.full, step.dated, step.curve
        to_target = step.to_target
        stop_h = np.minimum(step.events, dt)
        start_soc = self.soc[live]
        new_soc = start_soc.copy()  # a paused car (most of a tight lot) stays where it is
        moving = np.flatnonzero(caps > 0)
        new_soc[moving] = model.soc_after(
            start_soc[moving], stop_h[moving], cap_kw=caps[moving],
            **{name: values[moving] for name, values in curve.items()},
        )  # fmt: skip
        done = to_target <= stop_h + 1e-12
        new_soc = np.where(done, np.maximum(start_soc, lot.target_pct[live]), new_soc)
        self.soc[live] = new_soc
        # Hours to target at full power: only cars with a departure need it, for their laxity
        at_full = (caps >= full - 1e-12) & (caps > 0) & dated
        self.full_h[live[at_full]] = np.maximum(0.0, self.full_h[live[at_full]] - stop_h[at_full])
        part = np.flatnonzero((caps > 0) & ~at_full & dated)
        self.full_h[live[part]] = model.hours_between(
            new_soc[part], lot.target_pct[live[part]], cap_kw=lot.power_kw[live[part]],
            **{name: values[part] for name, values in curve.items()},
        )  # fmt: skip
        # A car at its full draw is recorded with its own limit: same charge, fewer segments.
        recorded = np.where(caps >= full - 1e-12, lot.power_kw[live], caps)
        unopened = np.isnan(self.open_start[live])
        changed = unopened | (np.abs(self.open_cap[live] - recorded) > 1e-9)
        closing = live[changed & ~unopened]
        self._close(closing, np.full(closing.size, t))
        opening = live[changed]
        self.open_start[opening] = t
        self.open_cap[opening] = recorded[changed]
        self.open_soc[opening] = start_soc[changed]
        self.ready_h[live[done]] = t + to_target[done]
        departed = lot.deadline_h[live] <= t + dt + 1e-12
        leaving = done | departed
        self._close(live[leaving], (t + stop_h)[leaving])
        self.end_soc[live[leaving]] = new_soc[leaving]
        left: np.ndarray = live[~leaving]
        return left

    def _close(self, cars: np.ndarray, end_h: np.ndarray) -> None:
        """End these cars' open segments at `end_h` (dropping empty ones)."""
        if not cars.size:
            return
        self.records.append((cars, self.open_start[cars], end_h, self.open_cap[cars],
                             self.open_soc[cars]))  # fmt: skip
        self.open_start[cars] = np.nan

    def _plan(self, steps: int, *, end_h: float) -> Plan:
        lot = self.lot
        unfinished = np.isnan(self.ready_h)
        still = unfinished & np.isinf(lot.deadline_h)
        self.end_soc[still] = self.soc[still]
        return Plan(
            ready_h=self.ready_h,
            end_soc_pct=self.end_soc,
            reaches_target=~unfinished,
            power_now_kw=self.power_now,
            segments=SegmentTable(*self._segments(end_h)),
            peak_kw=self.peak,
            steps=steps,
            load=[*self.load, (end_h, 0.0)],
        )

    def _segments(self, end_h: float) -> tuple[np.ndarray, np.ndarray]:
        """The closed segments, grouped by car in time order, and each car's offset."""
        still = np.flatnonzero(~np.isnan(self.open_start))
        self._close(still, np.full(still.size, end_h))
        cars, start, end, cap, soc = (
            np.concatenate(column) if self.records else np.empty(0, dtype)
            for column, dtype in zip(zip(*self.records, strict=True) if self.records else
                                     [()] * 5, (np.int64, *[float] * 4), strict=True)
        )  # fmt: skip
        kept = np.flatnonzero(end > start)  # empty segments dropped
        kept = kept[np.argsort(cars[kept], kind="stable")]  # by car, each in time order
        rows = np.empty((kept.size, 4))
        for k, column in enumerate((start, end, cap, soc)):
            rows[:, k] = column[kept]
        counts = np.bincount(cars[kept], minlength=len(self.lot))
        return rows, np.concatenate(([0], np.cumsum(counts)))


def water_fill(wants: np.ndarray, budget: float) -> np.ndarray:
    """The level λ with Σ min(wants, λ) = budget, and each car's min(want, λ)."""
    if wants.sum() <= budget:
        return wants.copy()
    ordered = np.sort(wants)
    below = np.concatenate(([0.0], np.cumsum(ordered)[:-1]))
    remaining = np.arange(ordered.size, 0, -1)
    levels = (budget - below) / remaining
    first_capped = int(np.argmax(ordered >= levels))
    shares: np.ndarray = np.minimum(wants, levels[first_capped])
    return shares
