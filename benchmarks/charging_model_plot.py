"""The charging model's figure for docs/charging.md: power and charge against time.

    uv run --group bench python -m benchmarks.charging_model_plot

Drawn from `fleetlake.charging.model` itself (the closed form), so the figure is the code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fleetlake.charging.model import ChargeCurve

OUT = Path(__file__).parents[1] / "docs" / "img" / "charging-model.png"


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = ChargeCurve(capacity_kwh=60, power_kw=11)
    total_h = curve.hours_between(10, 100)
    hours = np.linspace(0, total_h, 600)
    soc = np.array([curve.soc_after(10, h) for h in hours])
    power = np.array([curve.power_at(s) for s in soc])
    knee_h = curve.hours_between(10, 80)
    figure, left = plt.subplots(figsize=(6.5, 3), dpi=80)
    left.plot(hours, power, color="#c0392b", label="grid power (kW)")
    left.set_xlabel("hours since plug-in")
    left.set_ylabel("kW", color="#c0392b")
    left.set_ylim(0, 12)
    right = left.twinx()
    right.plot(hours, soc * curve.capacity_kwh / 100, color="#2471a3", label="charge (kWh)")
    right.set_ylabel("kWh in the battery", color="#2471a3")
    right.set_ylim(0, 62)
    left.axvline(knee_h, color="grey", linestyle=":", linewidth=1)
    left.text(knee_h, 0.6, " taper starts (80 %)", color="grey", fontsize=8)
    left.set_title("60 kWh at 11 kW, η 0.9, taper 80 % → 20 %", fontsize=10)
    figure.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(OUT)
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
