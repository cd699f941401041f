"""Kaplan–Meier survival (or cumulative-incidence) curves by arm, with their pointwise or simultaneous 95%
bands and a numbers-at-risk table underneath, at whole-day ticks a trial's schedule reads (day 0, 7, 14, 28...).

Drawn for ``SurvivalResult.plot()`` (``equipoise analyze survival --plot``) and the committee's reports (survival
to day 28, time to discharge with death competing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from equipoise.figures.report_style import ARM_COLOURS, POOLED_GREY, use_report_style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from equipoise.analyze.kaplan_meier import CumulativeIncidence, KaplanMeier
    from equipoise.analyze.km_bands import KMBand


def day_ticks(end: float, max_intervals: int = 8) -> npt.NDArray[np.float64]:
    """Whole-day ticks from 0 to at most ``end``: weekly steps (1, 2, 7, 14 or 28 days) up to 8 x 28 days, as a
    trial's schedule reads; beyond that matplotlib's round integer steps (1, 2, 5 x 10^k)."""
    from matplotlib.ticker import MaxNLocator  # heavy: loaded only when a picture is asked for

    for step in (1, 2, 7, 14, 28):
        if end / step <= max_intervals:
            return np.arange(0.0, math.floor(end) + 1, step)
    ticks = np.asarray(MaxNLocator(nbins=max_intervals, steps=[1, 2, 5, 10], integer=True).tick_values(0, end),
                       dtype=np.float64)
    return ticks[(ticks >= 0) & (ticks <= end)]


def km_plot(curves: Mapping[str, KaplanMeier], *, title: str, xlabel: str = "days since randomisation",
            incidence: bool = False, horizon: float | None = None,
            aalen_johansen: Mapping[str, CumulativeIncidence] | None = None,
            bands: Mapping[str, KMBand] | None = None) -> Figure:
    """Kaplan–Meier curves with their pointwise 95% band and a numbers-at-risk table underneath, at whole-day
    ticks (:func:`day_ticks`). With
    ``incidence`` the curves are 1 − S(t); with ``aalen_johansen`` the competing-risk cumulative incidence is
    drawn instead of the KM complement. With ``bands`` (simultaneous bands from ``km_confidence_band``) the
    shading is the simultaneous band over its range and the pointwise interval is drawn as dotted lines; a note
    under the title says which is which."""
    use_report_style()
    import matplotlib.pyplot as plt  # heavy: loaded only when a picture is asked for

    fig = plt.figure(figsize=(7, 4.6))
    ax = fig.add_axes((0.17, 0.32, 0.78, 0.6))
    tab = fig.add_axes((0.17, 0.04, 0.78, 0.16))
    end = horizon or max(float(c.time.max()) for c in curves.values())
    grid = day_ticks(end)
    for i, (name, km) in enumerate(curves.items()):
        colour = ARM_COLOURS[i % len(ARM_COLOURS)]
        t = np.concatenate([[0.0], km.time])
        if aalen_johansen is not None and name in aalen_johansen:
            cif = aalen_johansen[name]
            tt = np.concatenate([[0.0], cif.time])
            ax.step(tt, np.concatenate([[0.0], cif.incidence]), where="post", color=colour, label=name)
            ax.fill_between(tt, np.concatenate([[0.0], np.nan_to_num(cif.lower, nan=0.0)]),
                            np.concatenate([[0.0], np.nan_to_num(cif.upper, nan=0.0)]), step="post", color=colour,
                            alpha=0.15, linewidth=0)
        else:
            s = np.concatenate([[1.0], km.surv])
            lo = np.concatenate([[1.0], np.nan_to_num(km.lower, nan=0.0)])
            hi = np.concatenate([[1.0], np.nan_to_num(km.upper, nan=1.0)])
            if incidence:
                s, lo, hi = 1 - s, 1 - hi, 1 - lo
            ax.step(t, s, where="post", color=colour, label=name)
            band = bands.get(name) if bands is not None else None
            if band is None:
                ax.fill_between(t, lo, hi, step="post", color=colour, alpha=0.15, linewidth=0)
            else:
                # undefined limits (where S reaches 0) break the dotted lines instead of jumping to 0 or 1
                raw_lo, raw_hi = np.concatenate([[1.0], km.lower]), np.concatenate([[1.0], km.upper])
                for edge in ((1 - raw_hi, 1 - raw_lo) if incidence else (raw_lo, raw_hi)):
                    ax.step(t, edge, where="post", color=colour, linewidth=0.7, linestyle=":")
                bt = np.concatenate([band.time, [band.t_upper]])
                blo, bhi = np.append(band.lower, band.lower[-1]), np.append(band.upper, band.upper[-1])
                if incidence:
                    blo, bhi = 1 - bhi, 1 - blo
                ax.fill_between(bt, blo, bhi, step="post", color=colour, alpha=0.18, linewidth=0)
        for x in grid:
            tab.text(x, -i, str(km.n_at_risk(x)), ha="center", va="center", fontsize=7.5, color=colour)
        tab.text(-0.04 * end, -i, name, ha="right", va="center", fontsize=7.5, color=colour)
    ax.set_xlim(0, end * 1.02)
    ax.set_ylim(0, 1)
    ax.set_xticks(grid)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("cumulative incidence" if incidence or aalen_johansen else "probability without the event")
    ax.set_title(title, loc="left")
    if bands:
        first = next(iter(bands.values()))
        same = len({(b.t_lower, b.t_upper) for b in bands.values()}) == 1
        what = first.description if same else f"{first.label}, over each arm's range"
        ax.text(0, 1.01, f"shaded: {what}; dotted: pointwise {100 * first.conf_level:g}% interval",
                transform=ax.transAxes, fontsize=6.5, va="bottom", color=POOLED_GREY)
        ax.set_title(title, loc="left", pad=12)
    ax.legend(frameon=False, loc="best")
    tab.set_xlim(0, end * 1.02)
    tab.set_ylim(-len(curves) + 0.5, 0.5)
    tab.axis("off")
    tab.set_title("number at risk", loc="left", fontsize=8)
    return fig
