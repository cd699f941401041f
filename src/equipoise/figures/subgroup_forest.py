"""The closed report's subgroup forest plot: one row per subgroup level (estimate and 95% CI, the text of each
at the right), headings per subgrouping variable, a reference line at 1 (or 0) and "favours" labels under the
axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from equipoise.figures.report_style import ARM_COLOURS, POOLED_GREY, use_report_style

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def subgroup_forest_plot(rows: Sequence[tuple[str, float, float, float, str]], *, measure: str,
                         favours: tuple[str, str], log_scale: bool = True, title: str = "Subgroups") -> Figure:
    """Rows of (label, estimate, low, high, n text); a reference line at 1 (or 0); ``favours`` labels the left
    and right sides."""
    use_report_style()
    import matplotlib.pyplot as plt  # heavy: loaded only when a picture is asked for
    from matplotlib.ticker import NullFormatter

    fig, ax = plt.subplots(figsize=(7, 0.32 * len(rows) + 1.4))
    ref = 1.0 if log_scale else 0.0
    for i, (label, est, lo, hi, note) in enumerate(rows):
        heading = not math.isfinite(est)
        if heading:
            ax.text(0, i, label, transform=ax.get_yaxis_transform(), ha="right", va="center", fontweight="bold",
                    fontsize=8)
            continue
        ax.plot([lo, hi], [i, i], color=POOLED_GREY, linewidth=1.2)
        ax.plot([est], [i], marker="s", color=ARM_COLOURS[0], markersize=5)
        ax.text(-0.02, i, f"{label}  {note}", transform=ax.get_yaxis_transform(), ha="right", va="center",
                fontsize=8)
        ax.text(1.02, i, f"{est:.2f} ({lo:.2f}–{hi:.2f})", transform=ax.get_yaxis_transform(), ha="left",
                va="center", fontsize=8)
    ax.axvline(ref, color="black", linewidth=0.8)
    if log_scale:
        ax.set_xscale("log")
        finite = [v for r in rows for v in r[2:4] if math.isfinite(v) and v > 0]
        ticks = [t for t in (0.1, 0.25, 0.5, 1, 2, 4, 8, 16) if min(finite, default=0.5) / 1.5 <= t
                 <= max(finite, default=2) * 1.5]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks([])
    ax.invert_yaxis()
    ax.spines["left"].set_visible(False)
    ax.set_xlabel(f"{measure}   ← favours {favours[0]}  |  favours {favours[1]} →")
    ax.set_title(title, loc="left")
    return fig
