"""The CONSORT 2010 flow diagram: assessed, excluded, randomised, then per arm allocated, followed up and
analysed, with the stage names down the left side (a pooled report passes a single pseudo-arm).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from equipoise.figures.report_style import use_report_style

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def consort_plot(boxes: Mapping[str, str], arms: Sequence[str]) -> Figure:
    """A CONSORT 2010 flow diagram from box texts: ``assessed``, ``excluded``, ``randomised`` and, per arm,
    ``allocated:<arm>``, ``followup:<arm>``, ``analysed:<arm>`` (pooled reports pass a single pseudo-arm)."""
    use_report_style()
    import matplotlib.pyplot as plt  # heavy: loaded only when a picture is asked for

    n = len(arms)
    fig, ax = plt.subplots(figsize=(7.2, 6.4))
    ax.axis("off")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    style = {"boxstyle": "square,pad=0.45", "facecolor": "white", "edgecolor": "black", "linewidth": 0.8}

    def box(x: float, y: float, text: str, ha: str = "center") -> None:
        ax.text(x, y, text, ha=ha, va="center", fontsize=6.8, bbox=style, linespacing=1.3)

    def arrow(x0: float, y0: float, x1: float, y1: float) -> None:
        ax.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "-|>", "linewidth": 0.8})

    box(0.42, 0.96, boxes["assessed"])
    arrow(0.42, 0.935, 0.42, 0.735)
    ax.plot([0.42, 0.56], [0.85, 0.85], color="black", linewidth=0.8)
    box(0.57, 0.85, boxes["excluded"], ha="left")
    box(0.42, 0.71, boxes["randomised"])
    xs = [0.5] if n == 1 else list(np.linspace(0.3, 0.78, n))
    for x, a in zip(xs, arms, strict=True):
        arrow(0.42, 0.69, x, 0.6)
        box(x, 0.53, boxes[f"allocated:{a}"])
        if f"followup:{a}" in boxes:
            arrow(x, 0.47, x, 0.38)
            box(x, 0.33, boxes[f"followup:{a}"])
            arrow(x, 0.29, x, 0.17)
            box(x, 0.12, boxes[f"analysed:{a}"])
    for y, label in ((0.53, "Allocation"), (0.33, "Follow-up"), (0.12, "Analysis")):
        ax.text(0.0, y, label, rotation=90, va="center", ha="left", fontsize=8, fontweight="bold", color="#1f5fa8")
    return fig
