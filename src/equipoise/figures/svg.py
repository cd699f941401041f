"""A figure as inline SVG text for the HTML reports (no XML prologue, no date: the same figure gives the same
bytes)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from equipoise.figures.report_style import use_report_style

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def figure_svg(fig: Figure) -> str:
    """Inline SVG of a figure (then closed), without the XML prologue, for embedding in HTML."""
    use_report_style()
    import matplotlib.pyplot as plt  # heavy: loaded only when a picture is asked for

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]
