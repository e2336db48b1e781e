"""Meter readings: the checks that keep bad meters out of plans, and the fit of a car's own
power and taper from readings the model itself generates (so the truth is known)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleetlake.charging.model import ChargeCurve
from fleetlake.charging.readings import Reading, check, fit_curve

T0 = datetime(2026, 12, 7, 8, tzinfo=UTC)


def truth_readings(
    curve: ChargeCurve, *, start: float, every_min: int, with_power: bool
) -> list[Reading]:
    readings, minutes, soc = [], 0, start
    while soc < 99.5:
        soc = curve.soc_after(start, minutes / 60)
        energy = (soc - start) * curve.capacity_kwh / 100 / curve.efficiency
        power = curve.power_at(soc) if with_power else None
        readings.append(Reading(ts=T0 + timedelta(minutes=minutes), energy_kwh=energy,
                                soc_pct=soc if with_power else None, power_kw=power))  # fmt: skip
        minutes += every_min
    return readings


def test_a_cars_own_power_and_taper_are_recovered() -> None:
    car = ChargeCurve(capacity_kwh=60, power_kw=7.0, taper_start_pct=75, taper_end_fraction=0.3)
    fit = fit_curve(truth_readings(car, start=20, every_min=5, with_power=True),
                    capacity_kwh=60, start_soc_pct=20, efficiency=0.9)  # fmt: skip
    assert fit is not None
    assert fit.power_kw == pytest.approx(7.0, abs=0.01)
    assert fit.taper_start_pct == pytest.approx(75, abs=1.5)  # a reading's SoC near the knee
    assert fit.taper_end_power_pct == pytest.approx(30, abs=2)
    assert fit.residual_kw < 0.1


def test_energy_only_readings_give_the_power_from_their_differences() -> None:
    car = ChargeCurve(capacity_kwh=60, power_kw=7.0)
    readings = truth_readings(car, start=20, every_min=10, with_power=False)[:20]  # below taper
    fit = fit_curve(readings, capacity_kwh=60, start_soc_pct=20, efficiency=0.9)
    assert fit is not None and fit.power_kw == pytest.approx(7.0, rel=1e-6)
    assert fit.taper_start_pct is None  # nothing seen above the knee: the setting stands


def test_too_few_readings_fit_nothing() -> None:
    assert fit_curve([Reading(ts=T0, power_kw=7, soc_pct=30)], capacity_kwh=60,
                     start_soc_pct=20, efficiency=0.9) is None  # fmt: skip


@pytest.mark.parametrize(
    ("reading", "previous", "reason"),
    [
        (Reading(ts=T0, energy_kwh=900.0), None, "lifetime meter register"),
        (Reading(ts=T0, power_kw=50.0), None, "above the charger's 11 kW"),
        (
            Reading(ts=T0, energy_kwh=5.0),
            Reading(ts=T0 - timedelta(minutes=1), energy_kwh=6.0),
            "energy_kwh went backwards",
        ),
        (
            Reading(ts=T0, soc_pct=40.0),
            Reading(ts=T0 - timedelta(minutes=1), soc_pct=41.0),
            "soc_pct went backwards",
        ),
        (Reading(ts=T0 - timedelta(minutes=1)), None, "needs energy_kwh, soc_pct or power_kw"),
        (Reading(ts=T0 - timedelta(days=1), power_kw=5.0), None, "outside the session"),
        (Reading(ts=T0, power_kw=float("nan")), None, "finite"),
        (Reading(ts=T0, soc_pct=101.0), None, "above 100"),
    ],
)
def test_bad_readings_are_refused_with_a_reason(
    reading: Reading, previous: Reading | None, reason: str
) -> None:
    found = check(reading, previous=previous, plugged_at=T0 - timedelta(hours=2), now=T0,
                  capacity_kwh=60, start_soc_pct=20, efficiency=0.9, charger_kw=11)  # fmt: skip
    assert found is not None and reason in found


def test_a_good_reading_passes() -> None:
    good = Reading(ts=T0, energy_kwh=20.0, soc_pct=50.0, power_kw=11.2)  # within 5 % of 11 kW
    found = check(good, previous=None, plugged_at=T0 - timedelta(hours=2), now=T0,
                  capacity_kwh=60, start_soc_pct=20, efficiency=0.9, charger_kw=11)  # fmt: skip
    assert found is None
