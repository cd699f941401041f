"""The look of the committee's report figures: the Agg backend, 9-point text, no top or right spine, the arms'
colours, and fixed SVG ids (``svg.hashsalt``) so that the same data give byte-identical reports.

The style is global matplotlib state, as it always was for these figures: once a report figure is drawn, later
figures in the same process share it.
"""

from __future__ import annotations

ARM_COLOURS = ["#1f5fa8", "#c2571a", "#3b8c3b", "#7a4fa0", "#8c6d1f"]
POOLED_GREY = "#4d4d4d"


def use_report_style() -> None:
    """Select the Agg backend (reports are drawn without a display) and set the report's rcParams."""
    import matplotlib  # heavy: loaded only when a picture is asked for

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
                         "svg.hashsalt": "equipoise", "svg.fonttype": "none"})
