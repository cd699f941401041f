"""Cumulative and leave-one-out meta-analysis: the model refitted, with the same method, on the first j trials
(in year order, then file order) or on all trials but one (metafor's ``cumul`` and ``leave1out``).

References
----------
Lau J, Antman EM, Jimenez-Silva J, Kupelnick B, Mosteller F, Chalmers TC (1992). Cumulative meta-analysis of
therapeutic trials for myocardial infarction. N Engl J Med 327:248-254. Viechtbauer W, Cheung MWL (2010).
Outlier and influence diagnostics for meta-analysis. Res Synth Methods 1:112-125. metafor 3.8-1, ``cumul``,
``leave1out``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from equipoise.errors import UserError
from equipoise.evidence.effect_sizes import Measure, ZeroCellRule
from equipoise.evidence.pooled import Method, Pooled
from equipoise.evidence.study_table import StudyTable, fit_model


@dataclass(frozen=True)
class Step:
    """One refit: ``study`` is the trial added (cumulative) or left out (leave-one-out). ``pooled`` is None
    when the model cannot be fitted at this step (``problem`` says why; metafor shows NA there)."""

    study: str
    year: float | None
    pooled: Pooled | None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"study": self.study, "year": self.year}
        if self.pooled is None:
            d.update({"k": None, "estimate": None, "ci_low": None, "ci_high": None, "problem": self.problem})
        else:
            d.update(self.pooled.summary_dict())
        return d

    def __str__(self) -> str:
        year = "" if self.year is None else f" ({self.year:g})"
        if self.pooled is None:
            return f"{self.study}{year}: not estimable ({self.problem or 'no model'})"
        p = self.pooled
        return (f"{self.study}{year}: k = {p.k}, {p.estimate:.4f} (95% CI {p.natural(p.ci_lb):.4f} to "
                f"{p.natural(p.ci_ub):.4f}), I^2 = {p.i2:.1f}%")


def _step(table: StudyTable, idx: list[int], study: int, measure: Measure, method: Method, hksj: bool,
          rule: ZeroCellRule | None) -> Step:
    year = None if table.years is None else table.years[study]
    try:
        pooled = fit_model(table.subset(idx), measure, method, hksj, rule, tau2_ci=False)
    except UserError as exc:
        return Step(table.studies[study], year, None, str(exc))
    return Step(table.studies[study], year, pooled)


def cumulative(table: StudyTable, measure: Measure, method: Method, hksj: bool = False,
               rule: ZeroCellRule | None = None) -> tuple[Step, ...]:
    """The pooled estimate as each trial reports (tau^2 intervals are not computed for the steps)."""
    table = table.complete()
    order = table.cumulative_order()
    return tuple(_step(table, order[:j], order[j - 1], measure, method, hksj, rule)
                 for j in range(1, len(order) + 1))


def leave_one_out(table: StudyTable, measure: Measure, method: Method, hksj: bool = False,
                  rule: ZeroCellRule | None = None) -> tuple[Step, ...]:
    """The pooled estimate without each trial in turn (file order)."""
    table = table.complete()
    return tuple(_step(table, [j for j in range(table.k) if j != i], i, measure, method, hksj, rule)
                 for i in range(table.k))
