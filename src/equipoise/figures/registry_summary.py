"""Registered trials counted four ways, as bar charts: by design, by status, by planned or actual size and by
country (the ten most frequent), under the summary's headline.

Drawn for ``RegistrySummary.plot()`` (``equipoise evidence summary --plot``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from equipoise.evidence.registry_summary import RegistrySummary


def registry_summary_plot(summary: RegistrySummary) -> Figure:
    """Four bar charts: design, status, size and country (the ten most frequent)."""
    from matplotlib.figure import Figure  # heavy: loaded only when a picture is asked for
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(12, 8.5), layout="constrained")
    axes = figure.subplots(2, 2)
    panels = (("Design", summary.by_design), ("Status", summary.by_status), ("Planned or actual size", summary.by_size),
              ("Country (top 10)", dict(list(summary.by_country.items())[:10])))
    for ax, (title, counts) in zip(axes.flat, panels, strict=True):
        labels = list(counts)[::-1]
        values = [counts[k] for k in labels]
        bars = ax.barh(labels, values, color="#4c72b0")
        ax.bar_label(bars, padding=3)
        ax.set_title(title, loc="left", fontsize=11)
        ax.set_xlabel("trials")
        ax.margins(x=0.15)
        ax.tick_params(axis="y", labelsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if not counts:
            ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes)
    figure.suptitle(summary.headline[0].upper() + summary.headline[1:], fontsize=12)
    return figure
