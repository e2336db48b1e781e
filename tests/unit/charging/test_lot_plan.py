"""The lot's stored plan on random lots: its bytes give back the same plan, every car's charge
read off the whole lot at once equals the one-car reading of its snapshot and the planner's
own segments, and a replan from it continues each car's charge where the plan has it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetlake.charging import model
from fleetlake.charging.lot_plan import CURVE, INPUTS, LotPlan
from fleetlake.charging.plan import Parked, planned_lot
from fleetlake.charging.settings import ChargingSettings
from fleetlake.charging.snapshot import curve_for, state_at
from tests.unit.charging.test_planner import car

NOW_S = 1_800_000_000.0
cars_strategy = st.lists(car, min_size=1, max_size=12)


def parked_of(cars: list[dict[str, float]], *, settings: ChargingSettings) -> Parked:
    columns: dict[str, list[float]] = {name: [] for name in INPUTS}
    for k, one in enumerate(cars):
        curve = curve_for(capacity_kwh=one["capacity"], max_power_kw=one["power"],
                          settings=settings)  # fmt: skip
        values = curve | {
            "desired_pct": one["target"],
            "departure_s": NOW_S + one["deadline"] * 3600 if k % 2 else np.nan,
            "plugged_at_s": NOW_S - 60 * (len(cars) - k),  # first plugged first, as parked_now
            "measured_kwh": one["soc"] * one["capacity"] / 100,
            "measured_at_s": NOW_S,
        }
        for name in INPUTS:
            columns[name].append(values[name])
    n = len(cars)
    return Parked(
        ids=np.arange(1, n + 1, dtype=np.int64),
        plates=[f"P{k}" for k in range(n)],
        cars={name: np.array(values, dtype=float) for name, values in columns.items()},
        soc=np.array([one["soc"] for one in cars]),
        ready_before=np.full(n, np.nan),
    )


def a_plan(cars: list[dict[str, float]], limit_kw: float) -> LotPlan:
    lot_settings = ChargingSettings(site_limit_kw=limit_kw)
    parked = parked_of(cars, settings=lot_settings)
    return planned_lot(parked, settings=lot_settings, now_s=NOW_S, version=3)[0]


@settings(max_examples=40, deadline=None)
@given(cars=cars_strategy, limit_kw=st.floats(5, 60), hours=st.floats(0, 30))
def test_the_stored_bytes_give_back_the_plan_and_every_reading_agrees(
    cars: list[dict[str, float]], limit_kw: float, hours: float
) -> None:
    plan = a_plan(cars, limit_kw)
    back = LotPlan.from_bytes(plan.to_bytes(), version=plan.version)
    assert back.plates == plan.plates and np.array_equal(back.session_id, plan.session_id)
    assert np.array_equal(back.segments, plan.segments)  # ends rebuilt from the next start
    assert np.array_equal(back.offsets, plan.offsets)
    assert back.site_limit_kw == limit_kw  # the limit it was planned under
    for name, values in plan.cars.items():
        assert np.array_equal(back.cars[name], values, equal_nan=True), name
    at_s = NOW_S + hours * 3600
    lot_wide = back.soc_at(at_s)
    for i in range(len(plan)):
        snapshot = back.snapshot(i)
        assert lot_wide[i] == pytest.approx(state_at(snapshot, at_s)[0], abs=1e-9)
        segments = [s for s in snapshot["segments"] if s[0] <= at_s]
        if segments:  # the planner's own segment, in closed form
            start, end, cap, soc = segments[-1]
            curve = {name: plan.cars[name][i] for name in CURVE}
            along = model.soc_after_one(soc, (min(at_s, end) - start) / 3600, cap_kw=cap,
                                        **curve)  # fmt: skip
            assert lot_wide[i] == pytest.approx(along, abs=1e-6) or lot_wide[i] == pytest.approx(
                plan.cars["desired_pct"][i]
            )


@settings(max_examples=25, deadline=None)
@given(cars=cars_strategy, limit_kw=st.floats(5, 60), hours=st.floats(0.01, 5))
def test_a_replan_continues_every_car_from_where_the_plan_has_it(
    cars: list[dict[str, float]], limit_kw: float, hours: float
) -> None:
    from fleetlake.charging.plan import parked_now

    first = a_plan(cars, limit_kw)
    later_s = NOW_S + hours * 3600
    carried = parked_now(first, [], settings=ChargingSettings(site_limit_kw=limit_kw),
                         now_s=later_s)  # fmt: skip
    alive = np.isnan(first.cars["departure_s"]) | (first.cars["departure_s"] > later_s)
    assert carried.plates == first.plates
    np.testing.assert_allclose(carried.soc, first.soc_at(later_s), atol=1e-12)
    assert np.all(carried.soc[alive] >= first.cars["soc_pct"][alive] - 1e-9)  # never backwards


def test_an_empty_lot_round_trips_and_segments_that_do_not_abut_are_refused() -> None:
    empty = LotPlan.from_bytes(LotPlan.empty(planned_at_s=NOW_S).to_bytes(), version=1)
    assert len(empty) == 0 and empty.planned_at_s == NOW_S and empty.find("P0") is None
    assert empty.soc_at(NOW_S).size == 0
    plan = a_plan([{"capacity": 60, "soc": 10, "target": 90, "power": 11.0, "deadline": 5}] * 3,
                  limit_kw=12.0)  # fmt: skip
    lasts = set(plan._last_segments().tolist())
    inner = [k for k in range(len(plan.segments)) if k not in lasts]
    assert inner  # shared, so some car's power changes within its stay
    plan.segments[inner[0], 1] -= 1.0
    with pytest.raises(ValueError, match="do not abut"):
        plan.to_bytes()
