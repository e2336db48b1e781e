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
now, half an hour a day out), so that 10,000 cars plan in a few hundred steps; within a step
each car's charge follows the closed form exactly, so every estimate follows the plan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetlake.charging import model

EPS_PCT = 1e-9
MAX_STEPS = 20_000


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
class Plan:
    """Per car: hours to ready (nan: not by its departure), charge at the end (ready or
    departure), whether it reaches the target, power now, and its segments
    (start_h, end_h, cap_kw, soc_at_start) in time order."""

    ready_h: np.ndarray
    end_soc_pct: np.ndarray
    reaches_target: np.ndarray
    power_now_kw: np.ndarray
    segments: list[np.ndarray]
    peak_kw: float
    steps: int


def min_step_h(t_h: float) -> float:
    return float(np.clip(t_h / 12.0, 1 / 60, 0.5))


def plan_lot(lot: Lot, *, site_limit_kw: float | None, min_power_kw: float) -> Plan:
    """The lot's plan from now; without a limit each car charges at its own full power."""
    if site_limit_kw is None:
        return _unlimited(lot)
    return _Planner(lot, site_limit_kw, min_power_kw).run()


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
    segments = [
        np.array([[0.0, end_h[i], full[i], lot.soc_pct[i]]]) if end_h[i] > 0 else np.empty((0, 4))
        for i in range(n)
    ]
    return Plan(
        ready_h=np.where(reaches, to_target, np.nan),
        end_soc_pct=end_soc,
        reaches_target=reaches,
        power_now_kw=now,
        segments=segments,
        peak_kw=float(now.sum()),
        steps=1,
    )


class _Planner:
    def __init__(self, lot: Lot, limit_kw: float, min_power_kw: float) -> None:
        self.lot, self.limit, self.min_power = lot, limit_kw, min_power_kw
        n = len(lot)
        self.soc = lot.soc_pct.astype(float).copy()
        self.ready_h = np.where(self.soc >= lot.target_pct - EPS_PCT, 0.0, np.nan)
        self.end_soc = self.soc.copy()
        self.power_now = np.zeros(n)
        self.records: list[tuple[np.ndarray, float, np.ndarray, np.ndarray, np.ndarray]] = []
        self.peak = 0.0

    def run(self) -> Plan:
        lot, t, steps = self.lot, 0.0, 0
        live = np.flatnonzero(np.isnan(self.ready_h) & (lot.deadline_h > 0))
        while live.size and steps < MAX_STEPS:
            step = min_step_h(t)
            caps, full = self._allocate(live, t, lookahead_h=4 * step)
            curve = lot.curve(live)
            to_target = model.hours_between(
                self.soc[live], lot.target_pct[live], cap_kw=caps, **curve
            )
            events = np.minimum(to_target, lot.deadline_h[live] - t)
            dt = max(step, float(events.min())) if events.size else step
            dt = min(dt, 4 * step)
            if steps == 0:
                self.power_now[live] = model.power_at(self.soc[live], cap_kw=caps, **curve)
            self.peak = max(self.peak, float(caps.sum()))
            if not caps.any():  # nobody can charge now, and nothing will change that
                break
            live = self._advance(live, t, dt, caps, full, to_target, curve)
            t += dt
            steps += 1
        return self._plan(steps)

    def _allocate(
        self, live: np.ndarray, t: float, *, lookahead_h: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each live car's cap for this step, and its full draw now."""
        lot = self.lot
        curve = lot.curve(live)
        full = model.power_at(self.soc[live], cap_kw=lot.power_kw[live], **curve)
        deadline = lot.deadline_h[live]
        has_deadline = np.isfinite(deadline)
        at_full_h = model.hours_between(
            self.soc[live], lot.target_pct[live], cap_kw=lot.power_kw[live], **curve
        )
        laxity = deadline - t - at_full_h
        critical = has_deadline & (laxity <= lookahead_h) & (laxity >= -1e-9)
        # Priority order: critical by laxity, then the other departures by deadline.
        key = np.where(critical, laxity - 1e12, np.where(has_deadline, deadline, np.inf))
        caps = np.zeros(live.size)
        left = self.limit
        ranked = np.flatnonzero(has_deadline)
        ranked = ranked[np.argsort(key[ranked], kind="stable")]
        if ranked.size:
            wants = full[ranked]
            before = np.concatenate(([0.0], np.cumsum(wants)[:-1]))
            given = np.clip(left - before, 0.0, wants)
            given[(given < wants) & (given < self.min_power)] = 0.0
            caps[ranked] = given
            left = max(0.0, left - float(given.sum()))
        sharing = np.flatnonzero(~has_deadline)
        if sharing.size and left > 0:
            caps[sharing] = self._share(full[sharing], lot.order[live[sharing]], left)
        return caps, full

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
        chosen = np.argsort(order, kind="stable")[:seats]
        caps[chosen] = water_fill(wants[chosen], budget)
        return caps

    def _advance(
        self,
        live: np.ndarray,
        t: float,
        dt: float,
        caps: np.ndarray,
        full: np.ndarray,
        to_target: np.ndarray,
        curve: dict[str, np.ndarray],
    ) -> np.ndarray:
        lot = self.lot
        stop_h = np.minimum(np.minimum(to_target, lot.deadline_h[live] - t), dt)
        start_soc = self.soc[live]
        new_soc = model.soc_after(start_soc, stop_h, cap_kw=caps, **curve)
        done = to_target <= stop_h + 1e-12
        new_soc = np.where(done, np.maximum(start_soc, lot.target_pct[live]), new_soc)
        self.soc[live] = new_soc
        # A car at its full draw is recorded with its own limit: same charge, fewer segments.
        recorded = np.where(caps >= full - 1e-12, lot.power_kw[live], caps)
        self.records.append((live, t, t + stop_h, recorded, start_soc))
        self.ready_h[live[done]] = t + to_target[done]
        departed = lot.deadline_h[live] <= t + dt + 1e-12
        leaving = done | departed
        self.end_soc[live[leaving]] = new_soc[leaving]
        left: np.ndarray = live[~leaving]
        return left

    def _plan(self, steps: int) -> Plan:
        lot = self.lot
        unfinished = np.isnan(self.ready_h)
        still = unfinished & np.isinf(lot.deadline_h)
        self.end_soc[still] = self.soc[still]
        return Plan(
            ready_h=self.ready_h,
            end_soc_pct=self.end_soc,
            reaches_target=~unfinished,
            power_now_kw=self.power_now,
            segments=self._segments(),
            peak_kw=self.peak,
            steps=steps,
        )

    def _segments(self) -> list[np.ndarray]:
        """Step records regrouped per car, consecutive steps with the same cap merged."""
        n = len(self.lot)
        if not self.records:
            return [np.empty((0, 4)) for _ in range(n)]
        car = np.concatenate([r[0] for r in self.records])
        rows = np.column_stack([
            np.concatenate([np.full(r[0].size, r[1]) for r in self.records]),
            np.concatenate([r[2] for r in self.records]),
            np.concatenate([r[3] for r in self.records]),
            np.concatenate([r[4] for r in self.records]),
        ])  # fmt: skip
        by_car = np.argsort(car, kind="stable")
        car, rows = car[by_car], rows[by_car]
        same_car = np.concatenate(([False], car[1:] == car[:-1]))
        same_cap = np.concatenate(([False], np.abs(rows[1:, 2] - rows[:-1, 2]) < 1e-9))
        starts = np.flatnonzero(~(same_car & same_cap))
        ends = np.concatenate((starts[1:], [len(car)])) - 1
        merged = rows[starts].copy()
        merged[:, 1] = rows[ends, 1]
        owner = car[starts]
        split_at = np.flatnonzero(np.diff(owner)) + 1
        per_car = [np.empty((0, 4)) for _ in range(n)]
        for owner_group, block in zip(
            np.split(owner, split_at), np.split(merged, split_at), strict=True
        ):
            per_car[int(owner_group[0])] = block
        return per_car


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
