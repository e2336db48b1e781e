"""The lot planner's promises, on random lots: never over the limit, deadlines a simple
earliest-deadline-first or least-laxity scheduler meets are met, infeasibility said at plan
time, and without a binding limit every car charges exactly as the single-car model says."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fleetlake.charging import model, planner
from fleetlake.charging.model import ChargeCurve


def make_lot(cars: list[dict[str, float]]) -> planner.Lot:
    def column(name: str) -> np.ndarray:
        return np.array([car[name] for car in cars], dtype=float)

    slope = np.full(len(cars), float(model.taper_slope(80.0, 0.2)))
    return planner.Lot(
        soc_pct=column("soc"), target_pct=column("target"), capacity_kwh=column("capacity"),
        power_kw=column("power"), efficiency=np.full(len(cars), 0.9),
        taper_start_pct=np.full(len(cars), 80.0), slope=slope,
        deadline_h=column("deadline"), order=np.arange(len(cars), dtype=float),
    )  # fmt: skip


def draws_at(lot: planner.Lot, plan: planner.Plan, t_h: float) -> np.ndarray:
    """Each car's grid power at `t_h`, from its plan segments and the closed form."""
    out = np.zeros(len(lot))
    for i in range(len(plan.segments)):
        segments = plan.segments[i]
        for start, end, cap, soc0 in segments:
            if start <= t_h < end:
                curve = lot.curve(np.array([i]))
                soc = model.soc_after(soc0, t_h - start, cap_kw=cap, **curve)[0]
                if soc < lot.target_pct[i] - 1e-9:
                    out[i] = model.power_at(soc, cap_kw=cap, **curve)[0]
    return out


def baseline(lot: planner.Lot, limit: float, key: Callable[..., np.ndarray]) -> np.ndarray:
    """A plain priority scheduler in one-minute steps: cars by `key`, each at full power
    while the limit lasts. Returns which cars reach their target by their departure."""
    soc, dt, t = lot.soc_pct.copy(), 1 / 60, 0.0
    curve = lot.curve(np.arange(len(lot)))
    while t < lot.deadline_h.max():
        live = (soc < lot.target_pct - 1e-9) & (lot.deadline_h > t)
        full = np.where(live, model.power_at(soc, cap_kw=lot.power_kw, **curve), 0.0)
        to_go = model.hours_between(soc, lot.target_pct, cap_kw=lot.power_kw, **curve)
        order = np.argsort(key(lot, t, to_go), kind="stable")
        before = np.concatenate(([0.0], np.cumsum(full[order])[:-1]))
        caps = np.zeros(len(lot))
        caps[order] = np.clip(limit - before, 0.0, full[order])
        step = np.clip(lot.deadline_h - t, 0.0, dt)
        charged = model.soc_after(soc, step, cap_kw=np.maximum(caps, 1e-12), **curve)
        soc = np.where(caps > 0, np.minimum(lot.target_pct, charged), soc)
        t += dt
    reached: np.ndarray = soc >= lot.target_pct - 1e-6
    return reached


def edf(lot: planner.Lot, t: float, to_go: np.ndarray) -> np.ndarray:
    return lot.deadline_h


def llf(lot: planner.Lot, t: float, to_go: np.ndarray) -> np.ndarray:
    return lot.deadline_h - t - to_go


car = st.fixed_dictionaries({
    "capacity": st.floats(20, 100),
    "soc": st.floats(0, 70),
    "target": st.floats(50, 100),
    "power": st.sampled_from([3.7, 7.4, 11.0, 22.0]),
    "deadline": st.floats(0.5, 10),
})  # fmt: skip
lots = st.lists(car, min_size=2, max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cars=lots, limit=st.floats(5, 40), share=st.booleans())
def test_the_lot_never_draws_more_than_the_limit(
    cars: list[dict[str, float]], limit: float, share: bool
) -> None:
    if share:  # half of the cars without a departure: they share what is left
        for one in cars[::2]:
            one["deadline"] = float("inf")
    lot = make_lot(cars)
    plan = planner.plan_lot(lot, site_limit_kw=limit, min_power_kw=1.4)
    moments = {0.0}
    for start, end, _, _ in plan.segments.rows:
        if True:
            moments |= {start, (start + end) / 2, np.nextafter(end, 0)}
    for t in moments:
        assert draws_at(lot, plan, t).sum() <= limit + 1e-6


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(cars=lots, tightness=st.floats(0.6, 1.5))
def test_deadlines_a_baseline_meets_are_met(cars: list[dict[str, float]], tightness: float) -> None:
    for one in cars:  # each alone could make it, so the lot's limit decides
        alone = ChargeCurve(capacity_kwh=one["capacity"], power_kw=one["power"])
        one["deadline"] = max(
            one["deadline"], 1.05 * alone.hours_between(one["soc"], one["target"])
        )
    lot = make_lot(cars)
    grid_kwh = np.maximum(0, lot.target_pct - lot.soc_pct) * lot.capacity_kwh / 100 / 0.9
    limit = tightness * float(np.sum(grid_kwh / lot.deadline_h))  # about the average need
    assume(limit > 1.0)
    met_by_baseline = baseline(lot, limit, edf).all() or baseline(lot, limit, llf).all()
    assume(met_by_baseline)
    plan = planner.plan_lot(lot, site_limit_kw=limit, min_power_kw=0.0)
    assert plan.reaches_target.all()
    assert np.all(plan.ready_h <= lot.deadline_h + 1e-9)


def test_zero_laxity_meets_what_earliest_deadline_first_misses() -> None:
    """A 10 kW lot: A (10 kW) must take 10 kWh by 2 h, B (5 kW) 10 kWh by 2 h 6 min.
    EDF gives A everything for an hour and B cannot catch up; sharing meets both."""
    battery = 10 * 0.9  # % of 100 kWh: 10 kWh from the grid at η 0.9
    cars = [
        {"capacity": 100, "soc": 0, "target": battery, "power": 10.0, "deadline": 2.0},
        {"capacity": 100, "soc": 0, "target": battery, "power": 5.0, "deadline": 2.1},
    ]
    lot = make_lot(cars)
    assert not baseline(lot, 10.0, edf).all()
    plan = planner.plan_lot(lot, site_limit_kw=10.0, min_power_kw=1.4)
    assert plan.reaches_target.all()


def test_infeasibility_is_reported_at_plan_time_with_the_charge_it_will_have() -> None:
    cars = [{"capacity": 60, "soc": 10, "target": 90, "power": 11.0, "deadline": 2.0}]
    lot = make_lot(cars)
    plan = planner.plan_lot(lot, site_limit_kw=50.0, min_power_kw=1.4)
    alone = ChargeCurve(capacity_kwh=60, power_kw=11.0)
    assert not plan.reaches_target[0] and np.isnan(plan.ready_h[0])
    assert plan.end_soc_pct[0] == pytest.approx(alone.soc_after(10, 2.0), abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(cars=lots)
def test_without_a_binding_limit_every_car_follows_the_single_car_model(
    cars: list[dict[str, float]],
) -> None:
    lot = make_lot(cars)
    free = planner.plan_lot(lot, site_limit_kw=None, min_power_kw=1.4)
    roomy = planner.plan_lot(lot, site_limit_kw=1e6, min_power_kw=1.4)
    for i, one in enumerate(cars):
        alone = ChargeCurve(capacity_kwh=one["capacity"], power_kw=one["power"])
        hours = alone.hours_between(one["soc"], one["target"])
        for plan in (free, roomy):
            if hours <= one["deadline"]:
                assert plan.ready_h[i] * 3600 == pytest.approx(hours * 3600, abs=1.0)
            else:
                assert not plan.reaches_target[i]
                expected = alone.soc_after(one["soc"], one["deadline"])
                assert plan.end_soc_pct[i] == pytest.approx(expected, abs=1e-6)


def test_below_the_minimum_power_cars_pause_instead() -> None:
    """5 kW shared by ten cars would be 0.5 kW each; at 1.4 kW minimum three charge (5/3 kW,
    floored to the 0.1 kW set-point)."""
    cars = [{"capacity": 60, "soc": 10, "target": 80, "power": 11.0, "deadline": float("inf")}
            for _ in range(10)]  # fmt: skip
    plan = planner.plan_lot(make_lot(cars), site_limit_kw=5.0, min_power_kw=1.4)
    charging = plan.power_now_kw[plan.power_now_kw > 0]
    assert len(charging) == 3 and charging == pytest.approx([1.6] * 3)  # set-points: 0.1 kW
    assert plan.reaches_target.all()  # each gets its turn
