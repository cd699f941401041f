"""A running platform's allocation history: the share of each calendar month's randomized patients by arm
(stacked bars), with the month's count above each bar. Drawn for the closed report's adaptive platform section.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from equipoise.figures.report_style import use_report_style

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def allocation_history_plot(patients: pd.DataFrame, arm: str, arms: list[str]) -> Figure:
    """Share of the patients randomized each calendar month to each arm (stacked), with the monthly counts."""
    use_report_style()
    import matplotlib.pyplot as plt  # heavy: loaded only when a picture is asked for

    months = pd.to_datetime(patients["randomised_on"]).dt.to_period("M")
    counts = pd.crosstab(months, patients[arm]).reindex(columns=arms, fill_value=0)
    share = counts.div(counts.sum(axis=1), axis=0)
    fig, ax = plt.subplots(figsize=(7.5, 3.6), layout="constrained")
    labels = [str(m) for m in share.index]
    bottom = [0.0] * len(labels)
    for name in arms:
        values = share[name].tolist()
        ax.bar(labels, values, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    for i, total in enumerate(counts.sum(axis=1)):
        ax.annotate(f"n={total}", (i, 1.01), ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("share of the month's patients")
    ax.set_xlabel("month of randomization")
    ax.set_title("Allocation history")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig
