"""A simulated adaptive platform: the mean allocation probability per arm after each adaptive analysis, and the
expected decisions (superiority, inferiority, futility, equivalence) taken at each analysis.

Drawn for ``AdaptivePlatformResult.plot()`` (``equipoise simulate protocol <adaptive protocol> --plot``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from equipoise.simulate.adaptive_platform_result import AdaptivePlatformResult


def platform_simulation_plot(result: AdaptivePlatformResult) -> Any:
    """Mean allocation probability per arm after each analysis, and the decisions taken at each analysis."""
    import matplotlib  # heavy: loaded only when a picture is asked for

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    days = result.mean_look_day
    for arm, probs in result.allocation_by_look.items():
        ax1.plot(days, probs, marker="o", markersize=3, label=arm)
    ax1.set_xlabel("day of the adaptive analysis (mean over running trials)")
    ax1.set_ylabel("allocation probability (mean)")
    ax1.set_ylim(0, 1)
    ax1.set_title("Allocation over time")
    ax1.legend(fontsize=8)
    looks = np.arange(1, len(days) + 1)
    bottom = np.zeros(len(days))
    colours = {"superiority": "#1a9850", "inferiority": "#d73027", "futility": "#fdae61",
               "equivalence": "#74add1"}
    for name, values in result.decisions_by_look.items():
        ax2.bar(looks, values, bottom=bottom, label=name, color=colours[name])
        bottom = bottom + np.asarray(values)
    ax2.set_xlabel("adaptive analysis")
    ax2.set_ylabel("expected decisions per trial")
    ax2.set_xticks(looks)
    ax2.set_title("Decisions by analysis")
    fig.suptitle(f"Scenario: {result.scenario.name}", fontsize=10)
    ax2.legend(fontsize=8)
    return fig
