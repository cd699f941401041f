"""The cumulative meta-analysis plot: the pooled estimate and its 95% CI as each trial reports, one row per
step in reporting order (Lau et al. 1992), ratios on a log axis, the numbers written at the right.

Drawn for ``MetaAnalysis.cumulative_plot()`` (``equipoise evidence meta --cumulative-plot``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from equipoise.evidence.effect_sizes import Measure
from equipoise.evidence.sensitivity import Step

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def cumulative_plot(steps: tuple[Step, ...], measure: Measure) -> Figure:
    """One row per step, top to bottom in reporting order; ratios on a log axis."""
    from matplotlib.figure import Figure  # heavy: loaded only when a picture is asked for

    n = len(steps)
    fig = Figure(figsize=(8.5, 1.4 + 0.32 * n), layout="constrained")
    ax = fig.add_subplot()
    labels = []
    for y, s in enumerate(steps):
        year = "" if s.year is None else f" ({s.year:g})"
        labels.append(f"+ {s.study}{year}")
        if s.pooled is None:
            continue
        p = s.pooled
        lo, hi = p.natural(p.ci_lb), p.natural(p.ci_ub)
        if math.isfinite(lo) and math.isfinite(hi):
            ax.plot([lo, hi], [y, y], color="black", lw=1)
        ax.plot([p.natural(p.beta)], [y], marker="o", color="#1f5fa8")
        ax.text(1.01, y, f"k={p.k}  {p.natural(p.beta):.2f} [{lo:.2f}, {hi:.2f}]", transform=ax.get_yaxis_transform(),
                va="center", fontsize=8)
    ax.set_yticks(range(n))
    ax.set_yticklabels(labels)
    ax.set_ylim(n - 0.5, -0.5)
    null = 1.0 if measure.is_ratio else 0.0
    ax.axvline(null, color="grey", lw=0.8, ls="--")
    if measure.is_ratio:
        ax.set_xscale("log")
    ax.set_xlabel(measure.label)
    ax.set_title("Cumulative meta-analysis: the pooled estimate as each trial reported")
    return fig
