"""A parked car's plan as one small JSON-able dict (what Redis holds per plate, made by
`lot_plan.LotPlan.snapshot`), and where the car is at any moment by following it: the charge
in closed form within the plan's segment."""

from __future__ import annotations

import bisect
import math
from datetime import UTC, datetime
from typing import Any

from fleetlake.charging import model
from fleetlake.charging.settings import ChargingSettings

TARGET_TOLERANCE_PCT = 1e-6


def curve_for(
    *,
    capacity_kwh: float,
    max_power_kw: float | None,
    settings: ChargingSettings,
    fit: tuple[float | None, float | None, float | None] = (None, None, None),
) -> dict[str, float]:
    """The model's parameters for one car: the charger's power, the car's own if lower; its
    fitted power and taper (from its meter readings) where there is a fit."""
    fit_power, fit_start, fit_end = fit
    power = min(settings.power_kw, max_power_kw or math.inf, fit_power or math.inf)
    start = settings.taper_start_pct if fit_start is None else fit_start
    end = settings.taper_end_fraction if fit_end is None else fit_end / 100.0
    return {
        "capacity_kwh": capacity_kwh,
        "power_kw": power,
        "efficiency": settings.efficiency,
        "taper_start_pct": start,
        "slope": float(model.taper_slope(start, end)),
    }


def epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


def iso(seconds: float | None) -> str | None:
    """ISO 8601 UTC, to the second, with Z."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(round(seconds), UTC).isoformat().replace("+00:00", "Z")


def state_at(snapshot: dict[str, Any], at_s: float) -> tuple[float, float]:
    """(state of charge %, grid power kW) at Unix time `at_s`, following the plan."""
    curve = snapshot["curve"]
    segments = snapshot["segments"]
    capacity = curve["capacity_kwh"]
    if not segments:
        return 100.0 * snapshot["charge_kwh"] / capacity, 0.0
    starts = [segment[0] for segment in segments]
    index = max(0, bisect.bisect_right(starts, at_s) - 1)
    start_s, end_s, cap_kw, soc_start = segments[index]
    if at_s < start_s:
        return soc_start, 0.0
    hours = (min(at_s, end_s) - start_s) / 3600.0
    soc = model.soc_after_one(soc_start, hours, cap_kw=cap_kw, **curve)
    target = snapshot["desired_pct"]
    ready_at = snapshot["ready_at"]
    if abs(soc - target) < TARGET_TOLERANCE_PCT or (ready_at is not None and at_s >= ready_at):
        soc = max(soc, target)  # at its target: exactly, not 79.9999999
    if at_s >= end_s:
        return soc, 0.0
    power = 0.0 if soc >= target else model.power_at_one(soc, cap_kw=cap_kw, **curve)
    return soc, power


def status_at(snapshot: dict[str, Any], at_s: float) -> dict[str, Any]:
    """The public facts of a parked car at a moment (v1 names)."""
    soc, power = state_at(snapshot, at_s)
    capacity = snapshot["curve"]["capacity_kwh"]
    ready_at = snapshot["ready_at"]
    return {
        "plate": snapshot["plate"],
        "current_charge_kwh": round(soc * capacity / 100.0, 3),
        "total_charge_kwh": capacity,
        "desired_pct": snapshot["desired_pct"],
        "soc_pct": round(soc, 2),
        "power_kw": round(power, 3),
        "plugged_at": iso(snapshot["plugged_at"]),
        "ready": ready_at is not None and at_s >= ready_at,
        "ready_at": iso(ready_at),
        "departure": iso(snapshot["departure"]),
        "reaches_target": bool(snapshot["reaches_target"]),
    }
