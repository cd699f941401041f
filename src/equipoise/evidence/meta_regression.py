"""Mixed-effects meta-regression on a categorical moderator: one common (residual) tau^2 across subgroups and the
omnibus test of moderators QM.

The model is y_i = x_i' beta + u_i + e_i with u_i ~ N(0, tau^2) and e_i ~ N(0, v_i), x_i the intercept and one
indicator per level of the moderator after the first (R's treatment contrasts, levels in sorted order, as
``factor()`` gives them). tau^2 is the residual heterogeneity by the chosen estimator (``estimate_tau2`` with the
design matrix, as metafor's ``rma(yi, vi, mods = ~ factor(g))``); beta by weighted least squares with weights
1/(v_i + tau^2), its covariance (X'WX)^-1; QM = b' V^-1 b over the level coefficients, chi-squared on (levels - 1)
degrees of freedom (metafor's default test = "z"); QE = y' P y with weights 1/v_i, the test for residual
heterogeneity on k - levels degrees of freedom. Unlike the subgroup analysis (``subgroups``: a separate tau^2 per
subgroup, RevMan's convention), the subgroups here share one tau^2.

References
----------
Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat Softw 36(3), section 3.3
(mixed-effects models, QE and QM). Thompson SG, Higgins JPT (2002). How should meta-regression analyses be
undertaken and interpreted? Stat Med 21:1559-1573. Borenstein M et al. (2009). Introduction to Meta-Analysis,
ch. 19 (pooled estimate of tau^2 across subgroups).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import chi2, norm

from equipoise.errors import UserError
from equipoise.evidence.effect_sizes import Measure, ZeroCellRule
from equipoise.evidence.pooled import Method
from equipoise.evidence.study_table import StudyTable, check_measure
from equipoise.evidence.tau2 import estimate_tau2, generalised_q


@dataclass(frozen=True)
class Coefficient:
    """The intercept (the reference level's effect) or a level's difference from the reference level."""

    name: str
    estimate: float
    se: float
    z: float
    p: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "estimate": self.estimate, "se": self.se, "z": self.z, "p": self.p}

    def __str__(self) -> str:
        return f"{self.name}: {self.estimate:.4f} (SE {self.se:.4f}), z = {self.z:.2f}, p = {self.p:.4g}"


@dataclass(frozen=True)
class ModeratorTest:
    """A meta-regression on one categorical moderator (analysis scale: log for ratios)."""

    measure: Measure
    method: Method
    levels: tuple[str, ...]
    k: int
    coefficients: tuple[Coefficient, ...]
    tau2: float
    qm: float
    qm_df: int
    qm_p: float
    qe: float
    qe_df: int
    qe_p: float

    def to_dict(self) -> dict[str, Any]:
        return {"measure": self.measure.value, "method": self.method.value, "levels": list(self.levels),
                "reference_level": self.levels[0], "k": self.k,
                "coefficients": [c.to_dict() for c in self.coefficients], "tau2": self.tau2, "qm": self.qm,
                "qm_df": self.qm_df, "qm_p": self.qm_p, "qe": self.qe, "qe_df": self.qe_df, "qe_p": self.qe_p}

    def __str__(self) -> str:
        scale = " (log scale)" if self.measure.is_ratio else ""
        tau = "fixed-effect model" if not self.method.is_random else \
            f"residual tau^2 = {self.tau2:.4f} ({self.method.tau2_method.reference})"
        lines = [f"Mixed-effects meta-regression, moderator with levels {', '.join(self.levels)}; k = {self.k}; "
                 f"{tau}",
                 f"Test of moderators: QM({self.qm_df}) = {self.qm:.4f}, p = {self.qm_p:.4g}",
                 f"Residual heterogeneity: QE({self.qe_df}) = {self.qe:.4f}, p = {self.qe_p:.4g}",
                 "", f"{'coefficient' + scale:<34}{'estimate':>10}{'se':>9}{'z':>9}{'p':>10}"]
        lines += [f"{c.name[:33]:<34}{c.estimate:>10.4f}{c.se:>9.4f}{c.z:>9.3f}{c.p:>10.4g}"
                  for c in self.coefficients]
        return "\n".join(lines)


def categorical_moderator(table: StudyTable, measure: Measure, method: Method = Method.REML,
                          rule: ZeroCellRule | None = None) -> ModeratorTest:
    """Meta-regression of ``table``'s effect sizes on its ``subgroup`` column (FE or a tau^2 estimator)."""
    check_measure(table.kind, measure)
    if method in (Method.MH, Method.PETO):
        raise UserError(f"meta-regression is by inverse variance: --method {method.value} does not apply")
    if table.subgroups is None:
        raise UserError("meta-regression needs a subgroup column (--by COLUMN)")
    table = table.complete()
    effects = table.effect_sizes(measure, rule)
    groups = list(table.subgroups or ())
    if len(effects.studies) != table.k:  # trials left out (double zeros under drop00): find the others by name
        group_of = dict(zip(table.studies, groups, strict=True))
        if len(group_of) != table.k:
            raise UserError("meta-regression leaving trials out needs a distinct study name in every row")
        groups = [group_of[s] for s in effects.studies]
    levels = tuple(sorted(set(groups)))
    k, p = len(groups), len(levels)
    if p < 2:
        raise UserError(f"the moderator has one level ({levels[0] if levels else 'none'}): nothing to compare")
    if k <= p:
        raise UserError(f"meta-regression on {p} levels needs more than {p} trials, there are {k}")
    y, v = np.asarray(effects.yi, dtype=float), np.asarray(effects.vi, dtype=float)
    X = np.column_stack([np.ones(k)] + [np.array([g == level for g in groups], dtype=float) for level in levels[1:]])
    tau2 = estimate_tau2(method.tau2_method, y, v, X) if method.is_random else 0.0
    w = 1 / (v + tau2)
    WX = X * w[:, None]
    vb = np.linalg.inv(X.T @ WX)
    b = vb @ (WX.T @ y)
    se = np.sqrt(np.diag(vb))
    z = b / se
    names = [f"intercept ({levels[0]})", *(f"{level} vs {levels[0]}" for level in levels[1:])]
    coefficients = tuple(Coefficient(n, float(e), float(s), float(t), float(2 * norm.sf(abs(t))))
                         for n, e, s, t in zip(names, b, se, z, strict=True))
    qm = float(b[1:] @ np.linalg.solve(vb[1:, 1:], b[1:]))
    qe = generalised_q(0.0, y, v, X) if np.all(v > 0) else math.nan
    return ModeratorTest(measure, method, levels, k, coefficients, float(tau2), qm, p - 1,
                         float(chi2.sf(qm, p - 1)), qe, k - p, float(chi2.sf(qe, k - p)))
