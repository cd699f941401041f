"""Egger's regression test for funnel-plot asymmetry, as metafor's ``regtest`` (``model="rma"``,
``predictor="sei"``): the meta-regression y_i = b0 + b1 se_i fitted with the pooled model's own tau^2 method
and test (FE for Mantel-Haenszel and Peto), and the test of b1 = 0 (z, or t with k - 2 df under HKSJ).

References
----------
Egger M, Davey Smith G, Schneider M, Minder C (1997). Bias in meta-analysis detected by a simple, graphical
test. BMJ 315:629-634. Sterne JAC, Egger M (2005). Regression methods to detect publication and other bias in
meta-analysis. In: Publication Bias in Meta-Analysis, ch. 6. metafor 3.8-1, ``regtest``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm, t

from equipoise.errors import UserError
from equipoise.evidence.pooled import Method, Pooled
from equipoise.evidence.tau2 import estimate_tau2


@dataclass(frozen=True)
class EggerTest:
    """b1 (the slope on the standard error), its test statistic (z, or t with ``df``) and p-value, and the
    limit estimate b0 (the effect as se -> 0)."""

    slope: float
    statistic: float
    p_value: float
    limit_estimate: float
    df: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"egger_z": self.statistic, "egger_p": self.p_value, "egger_slope": self.slope,
                "egger_limit_estimate": self.limit_estimate, "egger_df": self.df}

    def __str__(self) -> str:
        kind = f"t({self.df})" if self.df is not None else "z"
        return (f"Egger's regression test (predictor: standard error): {kind} = {self.statistic:.4f}, "
                f"p = {self.p_value:.4g}")


def egger_test(pooled: Pooled) -> EggerTest:
    """Egger's test for the trials and method of ``pooled``."""
    y, v = pooled.effects.yi, pooled.effects.vi
    k = len(y)
    if k < 3:
        raise UserError("Egger's test needs at least 3 trials")
    X = np.column_stack([np.ones(k), np.sqrt(v)])
    method = pooled.method
    tau2 = 0.0 if not method.is_random else estimate_tau2(method.tau2_method, y, v, X)
    w = 1 / (v + tau2)
    XtWX = X.T @ (X * w[:, None])
    cov = np.linalg.inv(XtWX)
    beta = cov @ (X.T @ (w * y))
    df: int | None = None
    hksj = pooled.hksj and method not in (Method.MH, Method.PETO)
    if hksj:
        rss = float(np.sum(w * (y - X @ beta) ** 2))
        cov = cov * (0.0 if rss <= np.finfo(float).eps else rss / (k - 2))
        df = k - 2
    stat = float(beta[1] / math.sqrt(cov[1, 1]))
    p = float(2 * t.sf(abs(stat), df)) if df is not None else float(2 * norm.sf(abs(stat)))
    return EggerTest(float(beta[1]), stat, p, float(beta[0]), df)
