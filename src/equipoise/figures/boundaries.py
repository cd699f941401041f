"""A group-sequential design in three panels: the boundaries on the z scale, the boundaries on the effect scale
(the estimate that crosses them, or its fraction of the planned effect) and the cumulative sample size (or
information) at each look.

Drawn for ``GroupSequentialDesign.plot()``, ``SampleSizeResult.plot()`` and
``ProtocolDesign.plot()`` (``equipoise design gsd|sample-size|protocol --plot``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure  # heavy: loaded only when a picture is asked for

    from equipoise.design.group_sequential import GroupSequentialDesign
    from equipoise.design.sample_size import SampleSizeResult

DISPLAY_CAP = 6.0  # bounds above this are drawn at the edge (they cannot be crossed in practice)


def boundaries_plot(design: GroupSequentialDesign, sample_size: SampleSizeResult | None = None) -> Figure:
    """Three panels: z-scale boundaries, effect-scale boundaries and the cumulative sample size per look.

    Without a sample size the effect scale is the estimate at the bound as a fraction of the effect the design
    is powered for (c_k / (drift * sqrt(t_k))), and the path is the information relative to a fixed design.
    """
    from matplotlib.figure import Figure  # heavy: loaded only when a picture is asked for

    fig = Figure(figsize=(13, 4.2), layout="constrained")
    axes = fig.subplots(1, 3)
    _z_panel(axes[0], design)
    _effect_panel(axes[1], design, sample_size)
    _size_panel(axes[2], design, sample_size)
    title = f"{design.looks}-look {design.spending} design, {design.sided}-sided alpha={design.alpha:g}"
    if sample_size is not None:
        title += f" - {sample_size.outcome}"
    fig.suptitle(title)
    return fig


def _z_panel(ax: Axes, d: GroupSequentialDesign) -> None:
    t = d.information_rates
    upper = np.minimum(d.upper, DISPLAY_CAP)
    ax.plot(t, upper, "o-", color="tab:green", label="efficacy (reject H0)")
    if d.sided == 2:
        ax.plot(t, -upper, "o-", color="tab:red", label="reject in favour of control")
        if d.futility is not None:
            ax.plot(t, d.futility, "s--", color="tab:orange", label="futility |Z| <")
            ax.plot(t, -d.futility, "s--", color="tab:orange")
    elif d.futility is not None:
        ax.plot(t, np.maximum(d.futility, -DISPLAY_CAP), "s--", color="tab:orange", label="futility")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("information fraction")
    ax.set_ylabel("z")
    ax.set_title("Boundaries (z scale)")
    ax.legend(fontsize=8)


def _effect_panel(ax: Axes, d: GroupSequentialDesign, s: SampleSizeResult | None) -> None:
    t = d.information_rates
    if s is None or s.effect_upper is None:
        rel = np.minimum(d.upper, DISPLAY_CAP) / (d.drift * np.sqrt(t))
        ax.plot(t, rel, "o-", color="tab:green", label="efficacy")
        if d.futility is not None and d.sided == 1:
            ax.plot(t[:-1], d.futility[:-1] / (d.drift * np.sqrt(t[:-1])), "s--", color="tab:orange",
                    label="futility")
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")
        ax.set_ylabel("estimate / planned effect")
        ax.set_title("Boundaries (effect scale, relative)")
    else:
        ax.plot(t, s.effect_upper, "o-", color="tab:green", label="efficacy")
        if s.effect_lower is not None:
            ax.plot(t, s.effect_lower, "o-", color="tab:red", label="other direction")
        if s.effect_futility is not None:
            ax.plot(t[:-1], s.effect_futility[:-1], "s--", color="tab:orange", label="futility")
        ax.set_ylabel(s.effect_name)
        ax.set_title("Boundaries (effect scale)")
    ax.set_xlabel("information fraction")
    ax.legend(fontsize=8)


def _size_panel(ax: Axes, d: GroupSequentialDesign, s: SampleSizeResult | None) -> None:
    looks = np.arange(1, d.looks + 1)
    if s is None:
        ax.bar(looks, d.information_rates * d.inflation_factor, color="tab:blue", alpha=0.6,
               label="information at the look / fixed design")
        ax.axhline(d.expected_sample_size_h1, color="tab:green", ls=":", label="expected (H1)")
        ax.axhline(d.expected_sample_size_h0, color="tab:red", ls=":", label="expected (H0)")
        ax.set_ylabel("relative to the fixed design")
    else:
        if s.n_per_look is not None:
            ax.bar(looks, s.n_per_look, color="tab:blue", alpha=0.6, label="patients")
            if s.expected_n_h1 is not None and s.events is None:
                ax.axhline(s.expected_n_h1, color="tab:green", ls=":", label="expected (H1)")
        if s.events_per_look is not None:
            ax.plot(looks, s.events_per_look, "o-", color="tab:purple", label="events")
        ax.set_ylabel("cumulative number")
    ax.set_xticks(looks)
    ax.set_xlabel("look")
    ax.set_title("Sample-size path")
    ax.legend(fontsize=8)
