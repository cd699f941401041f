"""Cumulative enrolment over calendar time, stacked by site (sites in the order they started), with the
target as a dashed line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from equipoise.figures.report_style import ARM_COLOURS, use_report_style

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def enrolment_plot(dates: pd.Series, sites: pd.Series, target: int | None = None) -> Figure:
    """Cumulative enrolment over time, stacked by site."""
    use_report_style()
    import matplotlib.pyplot as plt  # heavy: loaded only when a picture is asked for

    df = pd.DataFrame({"date": pd.to_datetime(dates), "site": sites.astype(str)})
    days = pd.date_range(df["date"].min(), df["date"].max(), freq="D")
    fig, ax = plt.subplots(figsize=(7, 3.2))
    cum = np.zeros(len(days))
    for i, (site, g) in enumerate(sorted(df.groupby("site"), key=lambda kv: kv[1]["date"].min())):
        counts = g.groupby("date").size().reindex(days, fill_value=0).cumsum().to_numpy()
        ax.fill_between(days, cum, cum + counts, step="post", alpha=0.85, label=f"{site} ({len(g)})",
                        color=ARM_COLOURS[i % len(ARM_COLOURS)] if i < 5 else None)
        cum = cum + counts
    if target:
        ax.axhline(target, color="black", linestyle="--", linewidth=0.8)
        ax.annotate(f"target {target} ", (1.0, target), xycoords=("axes fraction", "data"), va="bottom", ha="right",
                    fontsize=8)
        ax.set_ylim(0, target * 1.12)
    ax.set_ylabel("patients randomised (cumulative)")
    ax.set_title("Enrolment over time by site", loc="left")
    ax.legend(frameon=False, fontsize=7.5, loc="upper left")
    fig.autofmt_xdate()
    return fig
