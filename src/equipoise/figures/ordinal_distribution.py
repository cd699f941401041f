"""Stacked 100% bars of an ordinal outcome (the WHO clinical progression scale) per group and day: the share of
patients at each level, better levels in cool colours, death in black, the percent written in each wide segment.

Drawn for ``OrdinalResult.plot()`` and the reports' primary outcome (by arm, or pooled in the open report).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from equipoise.figures.report_style import use_report_style

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def who_stacked_bars(counts: Mapping[str, Mapping[str, Sequence[int]]], levels: Sequence[int],
                     labels: Mapping[int, str] | None = None, title: str = "WHO clinical progression scale") -> Figure:
    """Stacked 100% bars of the WHO scale per group (arm or pooled) and day: ``counts[day][group]`` holds the
    count per level in ``levels`` order. Better (lower) levels in cool colours, death in black."""
    use_report_style()
    import matplotlib.pyplot as plt  # heavy: loaded only when a picture is asked for
    from matplotlib.patches import Rectangle

    days = list(counts)
    groups = list(next(iter(counts.values())))
    cmap = plt.get_cmap("RdYlBu_r")
    colours = [cmap(i / max(1, len(levels) - 2)) for i in range(len(levels) - 1)] + ["#111111"]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(days) * len(groups) + 1.4))
    y = 0.0
    ticks, ticklabels = [], []
    for day in days:
        for group in groups:
            c = np.asarray(counts[day][group], float)
            total = c.sum()
            left = 0.0
            for j, v in enumerate(c):
                share = v / total if total else 0.0
                ax.barh(y, share, left=left, color=colours[j], edgecolor="white", linewidth=0.4, height=0.8)
                if share >= 0.06:
                    ax.text(left + share / 2, y, f"{100 * share:.0f}", ha="center", va="center", fontsize=7,
                            color="white" if j in (0, len(levels) - 1) or j > len(levels) * 0.7 else "black")
                left += share
            ticks.append(y)
            ticklabels.append(f"{day} · {group} (n={int(total)})")
            y += 1
        y += 0.5
    ax.set_yticks(ticks, ticklabels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("proportion of patients (%) at each level; lower levels are better")
    handles = [Rectangle((0, 0), 1, 1, color=colours[j]) for j in range(len(levels))]
    names = [f"{lv}" + (f" {labels[lv][:28]}" if labels and lv in labels else "") for lv in levels]
    ax.legend(handles, names, ncol=4, fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.5 / (y + 1)),
              frameon=False)
    ax.set_title(title, loc="left")
    return fig
