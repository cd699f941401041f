"""Subgroup analysis: a separate model in each subgroup (its own tau^2) and the test for subgroup differences.

Convention (R meta's ``subgroup=`` default, ``common.tau=FALSE``, and metafor's documented way of comparing
independent subgroups: ``rma(est, sei=se, mods=~group, method="FE")``): Q_between is the fixed-effect
heterogeneity statistic of the subgroup estimates with their own standard errors (HKSJ-scaled under HKSJ),
chi-squared on G - 1 degrees of freedom. Subgroups whose standard error is undefined (one trial under HKSJ)
are left out of the test and named.

References
----------
Borenstein M, Hedges LV, Higgins JPT, Rothstein HR (2009). Introduction to Meta-Analysis, ch. 19 (separate
tau^2 per subgroup, Q-test based on analysis of variance). Deeks JJ, Higgins JPT, Altman DG (2023). Cochrane
Handbook, section 10.11.3.1. Viechtbauer W, metafor documentation "Comparing estimates of independent
meta-analyses or subgroups".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import chi2

from equipoise.errors import UserError
from equipoise.evidence.effect_sizes import Measure, ZeroCellRule
from equipoise.evidence.pooled import Method, Pooled
from equipoise.evidence.study_table import StudyTable, fit_model


@dataclass(frozen=True)
class Subgroup:
    name: str
    pooled: Pooled

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name}
        d.update(self.pooled.summary_dict())
        return d

    def __str__(self) -> str:
        p = self.pooled
        return (f"{self.name}: k = {p.k}, {p.estimate:.4f} (95% CI {p.natural(p.ci_lb):.4f} to "
                f"{p.natural(p.ci_ub):.4f}), I^2 = {p.i2:.1f}%")


@dataclass(frozen=True)
class SubgroupAnalysis:
    subgroups: tuple[Subgroup, ...]
    q_between: float
    df_between: int
    p_between: float
    left_out: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"subgroups": [s.to_dict() for s in self.subgroups], "q_between": _finite(self.q_between),
                "df_between": self.df_between, "p_between": _finite(self.p_between),
                "subgroups_left_out_of_test": list(self.left_out)}

    def __str__(self) -> str:
        lines = ["Subgroups (a separate model in each):", *(f"  {s}" for s in self.subgroups),
                 f"Test for subgroup differences: Q_between(df = {self.df_between}) = {self.q_between:.4f}, "
                 f"p = {self.p_between:.4g}"]
        if self.left_out:
            lines.append(f"Left out of the test: {', '.join(self.left_out)}")
        return "\n".join(lines)


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def test_between(estimates: np.ndarray, ses: np.ndarray) -> tuple[float, int, float]:
    """Q_between = sum w_g (b_g - b_FE)^2 with w_g = 1/se_g^2, on G - 1 df."""
    if len(estimates) < 2:
        return float("nan"), 0, float("nan")
    w = 1 / ses**2
    mu = np.sum(w * estimates) / w.sum()
    q = float(np.sum(w * (estimates - mu) ** 2))
    return q, len(estimates) - 1, float(chi2.sf(q, len(estimates) - 1))


def subgroup_analysis(table: StudyTable, measure: Measure, method: Method, hksj: bool = False,
                      rule: ZeroCellRule | None = None) -> SubgroupAnalysis:
    """A model per subgroup (in order of first appearance) and the test for subgroup differences."""
    if table.subgroups is None:
        raise UserError("--by: the file has no subgroup column")
    table = table.complete()
    assert table.subgroups is not None
    names = list(dict.fromkeys(table.subgroups))
    groups = []
    for name in names:
        idx = [i for i, g in enumerate(table.subgroups) if g == name]
        groups.append(Subgroup(name, fit_model(table.subset(idx), measure, method, hksj, rule)))
    usable = [g for g in groups if math.isfinite(g.pooled.se) and g.pooled.se > 0]
    q, df, p = test_between(np.array([g.pooled.beta for g in usable]), np.array([g.pooled.se for g in usable]))
    left_out = tuple(g.name for g in groups if g not in usable)
    return SubgroupAnalysis(tuple(groups), q, df, p, left_out)
