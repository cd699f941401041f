"""The funnel plot: each trial's estimate against its standard error (inverted axis), with the pseudo 95%
confidence region around the pooled estimate. Drawn for ``MetaAnalysis.funnel_plot()`` (``equipoise evidence
meta --funnel``).

References
----------
Sterne JAC, Egger M (2001). Funnel plots for detecting bias in meta-analysis: guidelines on choice of axis.
J Clin Epidemiol 54:1046-1055. metafor's ``funnel.rma``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from equipoise.evidence.pooled import Pooled

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Z = 1.959963984540054


def funnel_plot(p: Pooled) -> Figure:
    """Estimates (analysis scale; log for ratios) against standard errors, 0 at the top."""
    from matplotlib.figure import Figure  # heavy: loaded only when a picture is asked for

    se = np.sqrt(p.effects.vi)
    y = p.effects.yi
    fig = Figure(figsize=(6.5, 5.2), layout="constrained")
    ax = fig.add_subplot()
    top = float(se.max()) * 1.1
    grid = np.linspace(0, top, 50)
    ax.fill_betweenx(grid, p.beta - Z * grid, p.beta + Z * grid, color="#e8e8e8", label="pseudo 95% CI region")
    ax.plot(p.beta - Z * grid, grid, color="grey", lw=0.8, ls="--")
    ax.plot(p.beta + Z * grid, grid, color="grey", lw=0.8, ls="--")
    ax.axvline(p.beta, color="black", lw=1, label="pooled estimate")
    ax.scatter(y, se, color="#1f5fa8", zorder=3, label="trials")
    ax.set_ylim(top, 0)
    scale = "log " if p.measure.is_ratio else ""
    ax.set_xlabel(f"{scale}{p.measure.label}")
    ax.set_ylabel("standard error")
    if p.measure.is_ratio:
        ticks = ax.get_xticks()
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:.2g}\n({math.exp(t):.2g})" for t in ticks])
        ax.set_xlabel(f"log {p.measure.label} (ratio in brackets)")
    ax.set_title(f"Funnel plot ({p.k} trials, {p.method.value})")
    # below the axis, where it cannot hide a trial
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=8, frameon=False)
    return fig
