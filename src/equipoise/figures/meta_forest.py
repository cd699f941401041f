"""The forest plot in the RevMan layout: a table of trials (counts, weight, effect with CI) beside the picture
(squares sized by weight, CIs, subgroup and overall diamonds, the prediction interval, "favours" labels), with
the heterogeneity and overall-effect lines under each total. Drawn for ``MetaAnalysis.plot()`` (``equipoise
evidence meta --plot``).

References
----------
Lewis S, Clarke M (2001). Forest plots: trying to see the wood and the trees. BMJ 322:1479-1480. Cochrane
Collaboration, Review Manager (RevMan) forest plot layout; metafor's ``forest.rma`` (its RevMan-style example).
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from equipoise.evidence.pooled import Pooled
from equipoise.evidence.study_table import DataKind, StudyTable

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from equipoise.evidence.meta_analysis import MetaAnalysis

Z = 1.959963984540054


@dataclass(frozen=True)
class _Row:
    kind: str  # "study", "header", "diamond", "pi", "text"
    label: str
    cells: tuple[str, ...] = ()
    est: float = math.nan
    lo: float = math.nan
    hi: float = math.nan
    weight: float = math.nan
    bold: bool = False


def _ci_text(p: Pooled, est: float, lo: float, hi: float) -> str:
    if not math.isfinite(est):
        return "Not estimable"
    n = p.natural
    return f"{n(est):.2f} [{n(lo):.2f}, {n(hi):.2f}]"


def _cells(t: StudyTable, i: int) -> tuple[str, ...]:
    v = t.values
    if t.kind is DataKind.BINARY:
        return (f"{v['events_treatment'][i]:g}", f"{v['n_treatment'][i]:g}", f"{v['events_control'][i]:g}",
                f"{v['n_control'][i]:g}")
    if t.kind is DataKind.CONTINUOUS:
        return (f"{v['mean_treatment'][i]:.3g} ({v['sd_treatment'][i]:.3g})", f"{v['n_treatment'][i]:g}",
                f"{v['mean_control'][i]:.3g} ({v['sd_control'][i]:.3g})", f"{v['n_control'][i]:g}")
    return (f"{v['estimate'][i]:.3g}", f"{v['se'][i]:.3g}")


def _headers(a: MetaAnalysis) -> tuple[str, ...]:
    k = a.table.kind
    if k is DataKind.BINARY:
        return ("Events", "Total", "Events", "Total")
    if k is DataKind.CONTINUOUS:
        return ("Mean (SD)", "Total", "Mean (SD)", "Total")
    return ("Estimate", "SE")


def _pooled_rows(p: Pooled, label: str, bold: bool) -> list[_Row]:
    total_text = _ci_text(p, p.beta, p.ci_lb, p.ci_ub)
    rows = [_Row("diamond", label, est=p.beta, lo=p.ci_lb, hi=p.ci_ub, weight=100.0, bold=bold,
                 cells=(total_text,))]
    if p.method.is_random and p.k >= 2 and math.isfinite(p.pi_lb):
        rows.append(_Row("pi", "Prediction interval", est=p.beta, lo=p.pi_lb, hi=p.pi_ub,
                         cells=(_ci_text(p, p.beta, p.pi_lb, p.pi_ub),)))
    het = f"Heterogeneity: Q = {p.q:.2f}, df = {max(p.effects.k - 1, 0)} (P {_pfmt(p.q_p)}); I² = {p.i2:.0f}%"
    if p.method.is_random:
        het = f"Heterogeneity: Tau² = {p.tau2:.3f}; " + het.removeprefix("Heterogeneity: ")
    stat = "t" if p.df is not None else "Z"
    rows.append(_Row("text", het))
    rows.append(_Row("text", f"Test for overall effect: {stat} = {abs(p.statistic):.2f} (P {_pfmt(p.p_value)})"))
    return rows


def _pfmt(p: float) -> str:
    if not math.isfinite(p):
        return "= NA"
    return "< 0.0001" if p < 1e-4 else f"= {p:.2f}" if p >= 0.01 else f"= {p:.4f}"


def _rows(a: MetaAnalysis) -> list[_Row]:
    p = a.pooled
    eff = p.effects
    table = a.table.complete()
    # the j-th effect size belongs to the j-th kept row of the complete table (names may repeat)
    position = {int(i): j for j, i in enumerate(np.flatnonzero(eff.keep))} if len(eff.keep) == table.k \
        else {i: i for i in range(table.k)}

    def study_row(i: int) -> _Row:
        name = table.studies[i]
        j = position.get(i)
        if j is None:
            return _Row("study", name, (*_cells(table, i), "", "Not estimable"))
        y, se = float(eff.yi[j]), math.sqrt(float(eff.vi[j]))
        w = float(p.weights[j])
        return _Row("study", name, (*_cells(table, i), f"{w:.1f}%", _ci_text(p, y, y - Z * se, y + Z * se)),
                    est=y, lo=y - Z * se, hi=y + Z * se, weight=w)

    rows: list[_Row] = []
    if a.subgroups is not None and table.subgroups is not None:
        for g in a.subgroups.subgroups:
            rows.append(_Row("header", g.name, bold=True))
            rows += [study_row(i) for i, s in enumerate(table.subgroups) if s == g.name]
            rows += _pooled_rows(g.pooled, "Subtotal (95% CI)", bold=True)
            rows.append(_Row("text", ""))
    else:
        rows += [study_row(i) for i in range(table.k)]
        rows.append(_Row("text", ""))
    rows += _pooled_rows(p, "Total (95% CI)", bold=True)
    if a.subgroups is not None:
        s = a.subgroups
        rows.append(_Row("text", f"Test for subgroup differences: Chi² = {s.q_between:.2f}, df = {s.df_between} "
                                 f"(P {_pfmt(s.p_between)})"))
    notes = []
    if a.left_out:
        notes.append(f"Without data (left out): {', '.join(a.left_out)}")
    note = p.effects.zero_cell_note()
    if note and (p.effects.corrected or p.effects.dropped):
        notes.append(f"Zero cells: {note}")
    for text in notes:  # long notes wrap onto rows of their own instead of running off the page
        rows += [_Row("text", line) for line in textwrap.wrap(text, 150)]
    return rows


def _limits(p: Pooled, rows: list[_Row]) -> tuple[float, float]:
    # the axis follows the trials and the overall diamond; longer intervals run off its edge
    los = [r.lo for r in rows if r.kind == "study" and math.isfinite(r.lo)]
    his = [r.hi for r in rows if r.kind == "study" and math.isfinite(r.hi)]
    lo, hi = min([*los, p.ci_lb]), max([*his, p.ci_ub])
    if p.measure.is_ratio:
        lo, hi = max(lo, math.log(0.01)), min(hi, math.log(100))
        span = max(abs(lo), abs(hi), math.log(2))
        return -span * 1.05, span * 1.05
    span = max(abs(lo), abs(hi))
    return -span * 1.05, span * 1.05


def meta_forest_plot(a: MetaAnalysis) -> Figure:
    """RevMan-style forest plot of ``a`` (subgroups when ``a`` has them)."""
    from matplotlib.figure import Figure  # heavy: loaded only when a picture is asked for
    from matplotlib.patches import Polygon

    p = a.pooled
    rows = _rows(a)
    n = len(rows)
    heads = _headers(a)
    ncols = len(heads)
    height = 2.0 + 0.27 * n
    fig = Figure(figsize=(14.5, height), layout=None)
    top = 1 - 0.9 / height
    bottom = 1.0 / height
    tab: Axes = fig.add_axes((0.01, bottom, 0.62, top - bottom))
    ax: Axes = fig.add_axes((0.65, bottom, 0.33, top - bottom))
    for axis in (tab, ax):
        axis.set_ylim(n - 0.5, -0.5)
    tab.set_xlim(0, 1)
    tab.axis("off")
    # column positions in the table axes (fractions of its width)
    study_x = 0.0
    data_x = [0.30 + j * (0.36 / ncols) for j in range(ncols)]
    weight_x, effect_x = 0.72, 0.99
    hdr_y = -1.3
    lab_t, lab_c = a.labels
    if ncols == 4:
        for x0, x1, lab in ((data_x[0], data_x[1], lab_t), (data_x[2], data_x[3], lab_c)):
            tab.text((x0 + x1) / 2 + 0.03, hdr_y - 0.7, lab[:1].upper() + lab[1:], ha="center", va="bottom",
                     fontweight="bold", clip_on=False)
    tab.text(study_x, hdr_y, "Study or Subgroup", fontweight="bold", va="bottom", clip_on=False)
    for x, h in zip(data_x, heads, strict=True):
        tab.text(x + 0.06, hdr_y, h, fontweight="bold", va="bottom", ha="right", clip_on=False)
    tab.text(weight_x, hdr_y, "Weight", fontweight="bold", va="bottom", ha="right", clip_on=False)
    kind = "IV, Random" if p.method.is_random else {"MH": "M-H, Fixed", "Peto": "Peto, Fixed"}.get(
        p.method.value, "IV, Fixed")
    effect_name = {"RR": "Risk Ratio", "OR": "Odds Ratio", "RD": "Risk Difference", "MD": "Mean Difference",
                   "SMD": "Std. Mean Difference", "GEN": "Effect"}[p.measure.value]
    tab.text(effect_x, hdr_y, f"{effect_name}\n{kind}, 95% CI", fontweight="bold", va="bottom", ha="right",
             clip_on=False)
    ax.text(0.5, hdr_y, f"{effect_name}\n{kind}, 95% CI", transform=ax.get_yaxis_transform(), ha="center",
            va="bottom", fontweight="bold", clip_on=False)
    ax.axhline(-0.5, color="black", lw=0.6, clip_on=False)
    tab.axhline(-0.5, color="black", lw=0.6, clip_on=False)
    max_w = max([r.weight for r in rows if r.kind == "study" and math.isfinite(r.weight)] + [1.0])
    for y, r in enumerate(rows):
        weight = "bold" if r.bold else "normal"
        if r.kind == "text":
            tab.text(study_x, y, r.label, va="center", fontsize=8.5, clip_on=False)
            continue
        tab.text(study_x, y, r.label, va="center", fontweight=weight)
        if r.kind == "header":
            continue
        if r.kind == "study":
            for x, c in zip(data_x, r.cells[:ncols], strict=True):
                tab.text(x + 0.06, y, c, va="center", ha="right")
            tab.text(weight_x, y, r.cells[ncols], va="center", ha="right")
            tab.text(effect_x, y, r.cells[ncols + 1], va="center", ha="right")
            if math.isfinite(r.est):
                ax.plot([r.lo, r.hi], [y, y], color="black", lw=1)
                size = 4 + 8 * math.sqrt(r.weight / max_w)
                ax.plot([r.est], [y], marker="s", color="#1f5fa8", markersize=size, markeredgecolor="#1f5fa8")
        elif r.kind == "diamond":
            tab.text(weight_x, y, "100.0%" if r.label.startswith("Total") else "", va="center", ha="right",
                     fontweight="bold")
            tab.text(effect_x, y, r.cells[0], va="center", ha="right", fontweight="bold")
            if math.isfinite(r.est):
                ax.add_patch(Polygon([(r.lo, y), (r.est, y - 0.35), (r.hi, y), (r.est, y + 0.35)], closed=True,
                                     color="black"))
        elif r.kind == "pi":
            tab.text(effect_x, y, r.cells[0], va="center", ha="right", fontsize=8.5)
            ax.plot([r.lo, r.hi], [y, y], color="#b22222", lw=2.5, solid_capstyle="butt")
    lo, hi = _limits(p, rows)
    ax.set_xlim(lo, hi)
    null = 0.0
    ax.axvline(null, color="black", lw=0.8)
    ax.spines[["left", "right", "top"]].set_visible(False)
    ax.set_yticks([])
    ticks = _ticks(p, lo, hi)
    ax.set_xticks(ticks)
    ax.set_xticklabels([_tick_label(p, t) for t in ticks])
    # "favours" labels under the axis, half an inch below it (RevMan's placement)
    ax.text(0.25, -0.5 / (height * (top - bottom)), f"Favours {lab_t}", transform=ax.transAxes, ha="center",
            va="top")
    ax.text(0.75, -0.5 / (height * (top - bottom)), f"Favours {lab_c}", transform=ax.transAxes, ha="center",
            va="top")
    return fig


def _ticks(p: Pooled, lo: float, hi: float) -> list[float]:
    if p.measure.is_ratio:
        cands = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]
        return [math.log(c) for c in cands if lo <= math.log(c) <= hi]
    return [float(t) for t in np.linspace(lo / 1.05, hi / 1.05, 5)]


def _tick_label(p: Pooled, t: float) -> str:
    return f"{math.exp(t):g}" if p.measure.is_ratio else f"{t:.2g}"
