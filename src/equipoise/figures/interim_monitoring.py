"""Group-sequential monitoring: the efficacy and futility boundaries on the z scale, recomputed at the observed
information fractions, with the observed z path and each look's z written beside it; the title is the decision.

Drawn for ``InterimResult.plot()`` (``equipoise analyze interim --plot``) and the closed report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from equipoise.figures.report_style import use_report_style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from equipoise.analyze.interim import InterimResult


def monitoring_plot(result: InterimResult) -> Figure:
    """Efficacy and futility bounds (z scale) against the information fraction, with the observed path."""
    use_report_style()
    import matplotlib.pyplot as plt  # heavy: loaded only when a picture is asked for

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    t = np.array(result.information_rates)
    ax.plot(t, result.upper, marker="o", color="#2e7d32", label="efficacy bound")
    lower = [(ti, v) for ti, v in zip(t, result.lower, strict=True) if v is not None]
    if lower:
        ax.plot([p[0] for p in lower], [p[1] for p in lower], marker="o", color="#c62828",
                label="futility bound (non-binding)" if not result.plan.binding else "futility bound")
    obs_t = [lk.information_fraction for lk in result.looks]
    obs_z = [lk.z for lk in result.looks]
    ax.plot(obs_t, obs_z, marker="D", color="black", linestyle="--", label="observed Z")
    for x, z in zip(obs_t, obs_z, strict=True):
        ax.annotate(f"{z:.2f}", (x, z), textcoords="offset points", xytext=(6, -10), fontsize=8)
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("information fraction")
    ax.set_ylabel("Z (positive favours experimental)")
    ax.set_title(f"Group-sequential monitoring: {result.decision}", loc="left")
    ax.legend(frameon=False, fontsize=8, loc="upper right")
    return fig
