"""The trial sequential analysis figure, the picture everyone knows from TSA papers: the cumulative z-curve by
accrued patients, the conventional +/-1.96 lines, the Lan-DeMets O'Brien-Fleming monitoring boundaries (and the
futility wedge) and the required information size.

Drawn for ``TrialSequentialAnalysis.plot()`` (``equipoise evidence tsa --plot``). The boundary is drawn as a
curve over the whole information axis from ``equipoise.design``'s spending functions, for the eye; the
boundaries the analysis tests against are the analysis's own.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import norm

from equipoise.design.boundaries import efficacy_bounds
from equipoise.design.spending import Family, cumulative_spending

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from equipoise.evidence.tsa import TrialSequentialAnalysis

DISPLAY_CAP = 8.0  # early O'Brien-Fleming bounds are huge; they are drawn at this height


def tsa_plot(tsa: TrialSequentialAnalysis) -> Figure:
    """The z-curve, the conventional and monitoring boundaries and the required information size of ``tsa``."""
    from matplotlib.figure import Figure  # heavy: loaded only when a picture is asked for

    fig = Figure(figsize=(9, 5.5), layout="constrained")
    ax = fig.add_subplot()
    patients = np.array([look.patients for look in tsa.looks])
    z = np.array([look.z for look in tsa.looks])
    xmax = max(tsa.daris, float(patients.max())) * 1.08
    # the boundary as a curve over the whole information axis (up to the DARIS), for the eye
    t = np.linspace(0.02, 1.0, 60)
    curve = efficacy_bounds(t, cumulative_spending(Family.OBF, tsa.alpha, t, sided=2), sided=2)
    shown = np.minimum(curve, DISPLAY_CAP)
    ax.plot(t * tsa.daris, shown, color="#b22222", lw=1.6, label="monitoring boundary (O'Brien-Fleming)")
    ax.plot(t * tsa.daris, -shown, color="#b22222", lw=1.6)
    ax.plot([tsa.daris, xmax], [curve[-1], curve[-1]], color="#b22222", lw=1.6)
    ax.plot([tsa.daris, xmax], [-curve[-1], -curve[-1]], color="#b22222", lw=1.6)
    conventional = float(norm.ppf(1 - tsa.alpha / 2))
    for sign in (1, -1):
        ax.axhline(sign * conventional, color="#2e8b57", ls="--", lw=1,
                   label=f"conventional {conventional:.2f}" if sign == 1 else None)
    fut = [(look.patients, look.futility) for look in tsa.looks if look.futility is not None]
    if fut:
        fx, fy = zip(*fut, strict=True)
        ax.plot(fx, fy, color="#8b4513", marker="o", lw=1, label="futility boundary")
        ax.plot(fx, [-v for v in fy], color="#8b4513", marker="o", lw=1)
    ax.axvline(tsa.daris, color="black", ls=":", lw=1)
    ax.text(tsa.daris, DISPLAY_CAP * 0.95, f"required information size \n{math.ceil(tsa.daris):,} ", va="top",
            ha="right", fontsize=8)
    ax.plot(patients, z, color="#1f5fa8", marker="s", lw=2, label="cumulative z-curve")
    for i, look in enumerate(tsa.looks):
        # vertical labels, alternately above and below the curve: trials reporting close together (a few dozen
        # patients apart) stay legible
        above = i % 2 == 0
        ax.annotate(look.study, (look.patients, look.z), textcoords="offset points", xytext=(0, 8 if above else -8),
                    fontsize=7, rotation=90, ha="center", va="bottom" if above else "top")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xlim(0, xmax)
    ax.set_ylim(-DISPLAY_CAP, DISPLAY_CAP)
    ax.set_xlabel("patients randomised (cumulative)")
    ax.set_ylabel("cumulative z (negative favours treatment)")
    ax.set_title(f"Trial sequential analysis: {tsa.conclusion}", fontsize=9, wrap=True)
    ax.legend(loc="lower right", fontsize=8)
    return fig
