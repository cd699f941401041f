"""A whole meta-analysis: the pooled model and, on request, subgroups, the cumulative analysis, leave-one-out and
Egger's test, in one result with ``to_dict()``, a metafor-style ``__str__`` and a RevMan-style forest ``plot()``.

References
----------
Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat Softw 36(3):1-48.
Deeks JJ, Higgins JPT, Altman DG (eds) (2023). Cochrane Handbook for Systematic Reviews of Interventions,
ch. 10 (Analysing data and undertaking meta-analyses).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from equipoise.errors import UserError
from equipoise.evidence.effect_sizes import Measure, ZeroCellRule
from equipoise.evidence.egger import EggerTest, egger_test
from equipoise.evidence.pooled import Method, Pooled
from equipoise.evidence.sensitivity import Step, cumulative, leave_one_out
from equipoise.evidence.study_table import StudyTable, fit_model
from equipoise.evidence.subgroups import SubgroupAnalysis, subgroup_analysis
from equipoise.figures.cumulative_meta import cumulative_plot
from equipoise.figures.funnel import funnel_plot
from equipoise.figures.meta_forest import meta_forest_plot

if TYPE_CHECKING:
    from matplotlib.figure import Figure


METHOD_TEXT = {
    Method.MH: "Mantel-Haenszel fixed-effect method (Mantel & Haenszel 1959; Robins, Breslow & Greenland 1986)",
    Method.PETO: "Peto's one-step method (Yusuf, Peto, Lewis, Collins & Sleight 1985)",
    Method.FE: "inverse-variance fixed-effect model",
}


@dataclass(frozen=True)
class MetaAnalysis:
    """The result of ``equipoise evidence meta``."""

    table: StudyTable
    pooled: Pooled
    subgroups: SubgroupAnalysis | None = None
    steps: tuple[Step, ...] | None = None
    leave_one_out: tuple[Step, ...] | None = None
    egger: EggerTest | None = None
    left_out: tuple[str, ...] = field(default_factory=tuple)
    labels: tuple[str, str] = ("treatment", "control")

    @property
    def method_text(self) -> str:
        p = self.pooled
        if p.method in METHOD_TEXT:
            text = METHOD_TEXT[p.method]
        else:
            text = f"random-effects model, tau^2 by {p.method.value} ({p.method.tau2_method.reference})"
        if p.hksj:
            text += "; Hartung-Knapp-Sidik-Jonkman CI and test (Hartung & Knapp 2001; Sidik & Jonkman 2002)"
        return text

    def to_dict(self) -> dict[str, Any]:
        d = self.pooled.to_dict()
        d["method_text"] = self.method_text
        d["trials_without_data"] = list(self.left_out)
        if self.subgroups is not None:
            d.update(self.subgroups.to_dict())
        if self.steps is not None:
            d["steps"] = [s.to_dict() for s in self.steps]
        if self.leave_one_out is not None:
            d["leave_one_out"] = [s.to_dict() for s in self.leave_one_out]
        if self.egger is not None:
            d.update(self.egger.to_dict())
        return d

    def __str__(self) -> str:
        p = self.pooled
        m = p.measure
        lines = [f"Meta-analysis of the {m.label} ({p.k} trials): {self.method_text}", ""]
        if p.method.is_random:
            ci = "" if math.isnan(p.tau2_ci_lb) else f" (95% CI {p.tau2_ci_lb:.4f} to {p.tau2_ci_ub:.4f})"
            lines.append(f"tau^2 (estimated amount of total heterogeneity): {p.tau2:.4f}{ci}")
            lines.append(f"tau (square root of estimated tau^2 value):      {math.sqrt(p.tau2):.4f}")
        lines.append(f"I^2 (total heterogeneity / total variability):   {p.i2:.2f}%")
        lines.append(f"H^2 (total variability / sampling variability):  {p.h2:.2f}")
        lines += ["", "Test for heterogeneity:", f"Q(df = {max(p.effects.k - 1, 0)}) = {p.q:.4f}, p-val {_p(p.q_p)}",
                  ""]
        scale = "log scale" if m.is_ratio else "analysis scale"
        stat = f"t({p.df})" if p.df is not None else "z"
        lines.append(f"Model results ({scale}): estimate {p.beta:.4f}, se {p.se:.4f}, {stat} = {p.statistic:.4f}, "
                     f"p-val {_p(p.p_value)}, 95% CI {p.ci_lb:.4f} to {p.ci_ub:.4f}")
        lines.append("")
        lines.append(f"Pooled {m.label}: {_fmt(p.estimate)} (95% CI {_fmt(p.natural(p.ci_lb))} to "
                     f"{_fmt(p.natural(p.ci_ub))})")
        if p.method.is_random:
            lines.append(f"95% prediction interval: {_fmt(p.natural(p.pi_lb))} to {_fmt(p.natural(p.pi_ub))}")
        note = p.effects.zero_cell_note()
        if note:
            lines.append(f"Zero cells: {note}")
        if self.left_out:
            lines.append(f"Trials without data, left out: {', '.join(self.left_out)}")
        if self.subgroups is not None:
            lines += ["", "Subgroups (a separate model in each; test for subgroup differences on the estimates):"]
            for g in self.subgroups.subgroups:
                q = g.pooled
                lines.append(f"  {g.name}: k = {q.k}, {_fmt(q.estimate)} (95% CI {_fmt(q.natural(q.ci_lb))} to "
                             f"{_fmt(q.natural(q.ci_ub))}), I^2 = {q.i2:.1f}%")
            s = self.subgroups
            lines.append(f"  Test for subgroup differences: Q_between(df = {s.df_between}) = {s.q_between:.4f}, "
                         f"p-val {_p(s.p_between)}")
        if self.steps is not None:
            lines += ["", "Cumulative meta-analysis (in order of year, then file order):"]
            lines += [_step_line(s, "+ ") for s in self.steps]
        if self.leave_one_out is not None:
            lines += ["", "Leave-one-out:"]
            lines += [_step_line(s, "- ") for s in self.leave_one_out]
        if self.egger is not None:
            lines += ["", str(self.egger)]
        return "\n".join(lines)

    def plot(self) -> Figure:
        """A forest plot in the RevMan layout (``figures/meta_forest.py``)."""
        return meta_forest_plot(self)

    def funnel_plot(self) -> Figure:
        return funnel_plot(self.pooled)

    def cumulative_plot(self) -> Figure:
        if self.steps is None:
            raise UserError("the cumulative plot needs --cumulative")
        return cumulative_plot(self.steps, self.pooled.measure)


def _p(p: float) -> str:
    if not math.isfinite(p):
        return "= NA"
    return "< .0001" if p < 1e-4 else f"= {p:.4f}"


def _fmt(x: float) -> str:
    return "NA" if not math.isfinite(x) else f"{x:.3f}"


def _step_line(s: Step, sign: str) -> str:
    if s.pooled is None:
        return f"  {sign}{s.study}: not estimable ({s.problem})"
    q = s.pooled
    return (f"  {sign}{s.study}: k = {q.k}, {_fmt(q.estimate)} (95% CI {_fmt(q.natural(q.ci_lb))} to "
            f"{_fmt(q.natural(q.ci_ub))})")


def run_meta_analysis(table: StudyTable, measure: Measure, method: Method, hksj: bool = False,
                      by_subgroup: bool = False, with_cumulative: bool = False, with_leave_one_out: bool = False,
                      with_egger: bool = False, rule: ZeroCellRule | None = None,
                      labels: tuple[str, str] = ("treatment", "control")) -> MetaAnalysis:
    """Everything ``equipoise evidence meta`` asks for, in one result."""
    pooled = fit_model(table, measure, method, hksj, rule)
    return MetaAnalysis(
        table=table, pooled=pooled,
        subgroups=subgroup_analysis(table, measure, method, hksj, rule) if by_subgroup else None,
        steps=cumulative(table, measure, method, hksj, rule) if with_cumulative else None,
        leave_one_out=leave_one_out(table, measure, method, hksj, rule) if with_leave_one_out else None,
        egger=egger_test(pooled) if with_egger else None,
        left_out=table.incomplete_studies(), labels=labels)
