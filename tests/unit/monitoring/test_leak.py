"""The box model against its differential equation, and the fit against leaks made by it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetlake.monitoring.leak import (
    CH4_KG_PER_NM3,
    Geometry,
    Physics,
    Rise,
    box_fraction,
    estimate_leak,
    exchange_rate_per_h,
    sensor_rise_ppmv,
)

TEMPLATE = Geometry(internal_volume_m3=800, length_m=12, width_m=10, height_m=6,
                    porosity=(0.3,), wall_area_m2=(500,))  # fmt: skip
PHYSICS = Physics()
SENSORS = np.array(
    [[1.0, 1.0, 1.0], [11.0, 1.0, 5.0], [1.0, 9.0, 5.0], [11.0, 9.0, 1.0]]
)  # not coplanar


def test_the_exchange_rate_follows_the_open_wall() -> None:
    assert exchange_rate_per_h(TEMPLATE, PHYSICS) == pytest.approx(0.3 * 500 * 3.6 / 800)
    per_face = Geometry(800, 12, 10, 6, porosity=(0.5, 0.1), wall_area_m2=(100, 400))
    assert exchange_rate_per_h(per_face, PHYSICS) == pytest.approx((50 + 40) * 3.6 / 800)


@settings(max_examples=30)
@given(rate=st.floats(0.05, 20), exchange=st.floats(0.05, 5), start=st.floats(0, 2))
def test_the_closed_form_solves_the_box_equation(
    rate: float, exchange: float, start: float
) -> None:
    volume = 800.0
    hours = np.linspace(0, 6, 6001)
    c = box_fraction(hours, rate_nm3_h=rate, exchange_per_h=exchange, volume_m3=volume,
                     start_h=start)  # fmt: skip
    after = hours > start + 0.01
    slope = np.gradient(c, hours)
    # V dC/dt = Q - λ V C, to the accuracy of a finite difference
    assert np.allclose(volume * slope[after], rate - exchange * volume * c[after],
                       rtol=2e-3, atol=1e-4 * rate)  # fmt: skip
    assert np.all(c[hours <= start] == 0) and c[-1] <= rate / (exchange * volume) * (1 + 1e-12)


def simulated(rate_kg_h: float, source: np.ndarray, *, until_h: float, noise: float,
              seed: int) -> list[Rise]:  # fmt: skip
    hours = np.arange(0.0, until_h, 1 / 60)  # a reading a minute
    clean = sensor_rise_ppmv(hours, SENSORS, rate_nm3_h=rate_kg_h / CH4_KG_PER_NM3,
                             source_xyz=source, start_h=0.1, geometry=TEMPLATE,
                             physics=PHYSICS)  # fmt: skip
    rng = np.random.default_rng(seed)
    return [Rise(k, tuple(SENSORS[k]), hours, clean[k] + rng.normal(0, noise, len(hours)))
            for k in range(len(SENSORS))]  # fmt: skip


@pytest.mark.parametrize("rate_kg_h", [0.5, 2.0, 10.0])
def test_the_fit_finds_rate_start_and_source_of_a_simulated_leak(rate_kg_h: float) -> None:
    source = np.array([3.0, 7.0, 1.5])
    found = estimate_leak(simulated(rate_kg_h, source, until_h=2.0, noise=2.0, seed=1),
                          geometry=TEMPLATE, physics=PHYSICS, noise_ppmv=2.0)  # fmt: skip
    assert found.rate_kg_h == pytest.approx(rate_kg_h, rel=0.05)
    low, high = found.rate_kg_h_range
    assert low <= rate_kg_h <= high and high - low < 0.2 * rate_kg_h
    assert found.start_h == pytest.approx(0.1, abs=0.02)
    assert np.linalg.norm(np.array(found.source_xyz) - source) < 2.0  # metres, in a 12 m box
    assert found.residual_ppmv == pytest.approx(2.0, rel=0.2)  # what is left is the noise


def test_fifteen_minutes_of_rise_are_enough_for_the_rate() -> None:
    source = np.array([9.0, 2.0, 2.0])
    found = estimate_leak(simulated(1.0, source, until_h=0.35, noise=2.0, seed=2),
                          geometry=TEMPLATE, physics=PHYSICS, noise_ppmv=2.0)  # fmt: skip
    assert found.rate_kg_h == pytest.approx(1.0, rel=0.2)


def test_too_few_readings_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 6 readings"):
        estimate_leak([Rise(1, (0, 0, 0), np.array([0.0, 0.1]), np.array([1.0, 2.0]))],
                      geometry=TEMPLATE, physics=PHYSICS, noise_ppmv=1.0)  # fmt: skip


def test_the_95_percent_interval_covers_the_truth_about_that_often() -> None:
    covered = 0
    for seed in range(20):
        found = estimate_leak(simulated(1.0, np.array([3.0, 7.0, 1.5]), until_h=1.0, noise=2.0,
                                        seed=seed), geometry=TEMPLATE, physics=PHYSICS,
                              noise_ppmv=2.0)  # fmt: skip
        low, high = found.rate_kg_h_range
        covered += low <= 1.0 <= high
    assert covered >= 17  # 95 % of 20 is 19; fewer than 17 would be a 1-in-50 chance


def test_the_interval_covers_the_truth_when_the_near_gain_differs_from_the_setting() -> None:
    from dataclasses import replace

    from fleetlake.monitoring import leak

    stronger = replace(PHYSICS, near_gain=1.5 * PHYSICS.near_gain)  # the template, not the model
    covered = 0
    for seed in range(10):
        hours = np.arange(0.0, 1.0, 1 / 60)
        source = np.array([3.0, 7.0, 1.5])
        clean = leak.sensor_rise_ppmv(hours, SENSORS, rate_nm3_h=1.0 / CH4_KG_PER_NM3,
                                      source_xyz=source, start_h=0.1, geometry=TEMPLATE,
                                      physics=stronger)  # fmt: skip
        rng = np.random.default_rng(seed)
        rises = [Rise(k, tuple(SENSORS[k]), hours, clean[k] + rng.normal(0, 2.0, len(hours)))
                 for k in range(len(SENSORS))]  # fmt: skip
        found = estimate_leak(rises, geometry=TEMPLATE, physics=PHYSICS, noise_ppmv=2.0)
        low, high = found.rate_kg_h_range
        covered += low <= 1.0 <= high
    assert covered >= 8
