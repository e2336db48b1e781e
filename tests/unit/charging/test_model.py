"""The charging model against an independent numeric integration of its definition."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetlake.charging.model import ChargeCurve


def integrated_hours(curve: ChargeCurve, a: float, b: float, cap: float | None = None) -> float:
    """∫ (C/100) / (η · min(c, P(s))) ds by the trapezoid rule on a fine grid (the definition)."""
    s = np.linspace(a, b, 200_001)
    top = curve.power_kw if cap is None else min(cap, curve.power_kw)
    k = (1 - curve.taper_end_fraction) / (100 - curve.taper_start_pct)
    power = curve.power_kw * (1 - k * np.maximum(0.0, s - curve.taper_start_pct))
    rate = curve.efficiency * np.minimum(top, power)
    return float(np.trapezoid((curve.capacity_kwh / 100) / rate, s))


curves = st.builds(
    ChargeCurve,
    capacity_kwh=st.floats(10, 300),
    power_kw=st.floats(1, 350),
    efficiency=st.floats(0.5, 1.0),
    taper_start_pct=st.floats(0, 99),
    taper_end_fraction=st.floats(0.05, 1.0),
)


@settings(max_examples=150, deadline=None)
@given(curve=curves, a=st.floats(0, 100), b=st.floats(0, 100), cap=st.floats(0.5, 400) | st.none())
def test_time_between_two_charges_is_the_integral_of_the_definition(
    curve: ChargeCurve, a: float, b: float, cap: float | None
) -> None:
    a, b = min(a, b), max(a, b)
    hours = curve.hours_between(a, b, cap_kw=cap)
    assert hours == pytest.approx(integrated_hours(curve, a, b, cap), rel=1e-6, abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(curve=curves, a=st.floats(0, 100), b=st.floats(0, 100), cap=st.floats(0.5, 400) | st.none())
def test_the_charge_after_a_time_is_the_exact_inverse(
    curve: ChargeCurve, a: float, b: float, cap: float | None
) -> None:
    a, b = min(a, b), max(a, b)
    hours = curve.hours_between(a, b, cap_kw=cap)
    assert curve.soc_after(a, hours, cap_kw=cap) == pytest.approx(b, abs=1e-7)


def test_worked_example_to_the_second() -> None:
    """60 kWh at 11 kW, η 0.9, taper 80 % → 20 %: 20 % → 80 % is 36 kWh at 9.9 kW into the
    battery (3 h 38 min 11 s); 80 % → 100 %: (C/100)/(ηPk) · ln(1/m) with k = 0.04."""
    curve = ChargeCurve(capacity_kwh=60, power_kw=11)
    assert round(curve.hours_between(20, 80) * 3600) == round(36 / 9.9 * 3600) == 13091
    taper_h = 0.6 / (0.9 * 11 * 0.04) * np.log(1 / 0.2)
    assert curve.hours_between(80, 100) == pytest.approx(taper_h, rel=1e-12)
    assert curve.power_at(90) == pytest.approx(11 * (1 - 0.04 * 10))
    assert curve.power_at(90, cap_kw=5) == 5.0  # a cap below the taper's power holds


def test_no_taper_and_full_taper_edges() -> None:
    flat = ChargeCurve(capacity_kwh=50, power_kw=10, taper_start_pct=100)
    assert flat.hours_between(0, 100) == pytest.approx(50 / 9.0)
    even = ChargeCurve(capacity_kwh=50, power_kw=10, taper_end_fraction=1.0)
    assert even.hours_between(0, 100) == pytest.approx(50 / 9.0)
    assert ChargeCurve(capacity_kwh=50, power_kw=10).soc_after(0, 1000) == 100.0


@settings(max_examples=200, deadline=None)
@given(curve=curves, a=st.floats(0, 100), hours=st.floats(0, 50), cap=st.floats(0.5, 400))
def test_the_one_car_float_path_equals_the_array_path(
    curve: ChargeCurve, a: float, hours: float, cap: float
) -> None:
    from fleetlake.charging import model

    params = {"capacity_kwh": curve.capacity_kwh, "power_kw": curve.power_kw,
              "efficiency": curve.efficiency, "taper_start_pct": curve.taper_start_pct,
              "slope": curve.slope}  # fmt: skip
    cap = min(cap, curve.power_kw)
    one = model.soc_after_one(a, hours, cap_kw=cap, **params)
    assert one == pytest.approx(float(model.soc_after(a, hours, cap_kw=cap, **params)), abs=1e-9)
    power = model.power_at_one(one, cap_kw=cap, **params)
    assert power == pytest.approx(float(model.power_at(one, cap_kw=cap, **params)), abs=1e-9)
