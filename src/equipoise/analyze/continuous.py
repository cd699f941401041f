"""Continuous outcomes: difference in means (Welch and pooled t) and ANCOVA.

References
----------
Welch BL (1947). The generalization of "Student's" problem when several different population variances are
involved. Biometrika 34:28-35.
European Medicines Agency (2015). Guideline on adjustment for baseline covariates in clinical trials,
EMA/CHMP/295050/2013 (ANCOVA).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from equipoise.analyze.results import Estimate, clean, fmt


@dataclass(frozen=True)
class ContinuousResult:
    outcome: str
    experimental: str
    control: str
    means: dict[str, float]
    sds: dict[str, float]
    n: dict[str, int]
    mean_difference: Estimate  # Welch
    pooled: Estimate  # Student, equal variances
    ancova: Estimate | None
    covariates: tuple[str, ...]
    direction: str

    def to_dict(self) -> dict[str, Any]:
        return {"analysis": "continuous", "outcome": self.outcome, "experimental": self.experimental,
                "control": self.control, "means": {k: clean(v) for k, v in self.means.items()},
                "sds": {k: clean(v) for k, v in self.sds.items()}, "n": self.n,
                "mean_difference": self.mean_difference.to_dict(), "pooled": self.pooled.to_dict(),
                "ancova": self.ancova.to_dict() if self.ancova else None, "covariates": list(self.covariates),
                "direction": self.direction}

    def __str__(self) -> str:
        lines = [f"Continuous outcome {self.outcome}: {self.experimental} vs {self.control}"]
        for a in (self.experimental, self.control):
            lines.append(f"  {a}: mean {fmt(self.means[a])} (SD {fmt(self.sds[a])}), n = {self.n[a]}")
        lines.append(f"  mean difference {self.mean_difference}   [{self.mean_difference.method}]")
        if self.ancova:
            lines.append(f"  adjusted difference {self.ancova}   [ANCOVA on {', '.join(self.covariates)}]")
        lines.append(f"  direction: {self.direction}")
        return "\n".join(lines)


def _t_estimate(diff: float, se: float, df: float, conf_level: float, method: str) -> Estimate:
    q = float(stats.t.ppf(1 - (1 - conf_level) / 2, df))
    p = float(2 * stats.t.sf(abs(diff / se), df)) if se > 0 else math.nan
    return Estimate(diff, diff - q * se, diff + q * se, p, method, se)


def compare_means(y: npt.ArrayLike, arm: npt.ArrayLike, *, experimental: str, control: str, outcome: str = "outcome",
                  covariates: npt.ArrayLike | None = None, covariate_names: tuple[str, ...] = (),
                  better: str | None = None, conf_level: float = 0.95) -> ContinuousResult:
    """Welch (1947) and Student t intervals (R t.test); ANCOVA by least squares (R lm(y ~ arm + covariates)).

    References
    ----------
    Welch BL (1947). Biometrika 34:28-35. European Medicines Agency (2015). Guideline on adjustment for baseline
    covariates in clinical trials, EMA/CHMP/295050/2013.
    """
    yv = np.asarray(y, float)
    av = np.asarray(arm).astype(str)
    a, b = yv[av == experimental], yv[av == control]
    n1, n0 = len(a), len(b)
    m1, m0 = float(a.mean()), float(b.mean())
    v1, v0 = float(a.var(ddof=1)), float(b.var(ddof=1))
    diff = m1 - m0
    se_w = math.sqrt(v1 / n1 + v0 / n0)
    df_w = se_w**4 / ((v1 / n1) ** 2 / (n1 - 1) + (v0 / n0) ** 2 / (n0 - 1))
    welch = _t_estimate(diff, se_w, df_w, conf_level, "Welch t")
    sp = math.sqrt(((n1 - 1) * v1 + (n0 - 1) * v0) / (n1 + n0 - 2))
    pooled = _t_estimate(diff, sp * math.sqrt(1 / n1 + 1 / n0), n1 + n0 - 2, conf_level, "Student t (pooled)")
    anc = None
    if covariates is not None and covariate_names:
        sel = (av == experimental) | (av == control)
        cov = np.asarray(covariates, float).reshape(len(av), -1)[sel]
        X = np.column_stack([np.ones(sel.sum()), (av[sel] == experimental).astype(float), cov])
        coef, *_ = np.linalg.lstsq(X, yv[sel], rcond=None)
        resid = yv[sel] - X @ coef
        df = X.shape[0] - X.shape[1]
        s2 = float(resid @ resid) / df
        cov_b = s2 * np.linalg.inv(X.T @ X)
        anc = _t_estimate(float(coef[1]), math.sqrt(cov_b[1, 1]), df, conf_level, "ANCOVA (least squares)")
    if better in ("lower", "higher"):
        sign = "below" if better == "lower" else "above"
        direction = f"difference is {experimental} − {control}; {better} values are better, so {sign} 0 favours " \
                    f"{experimental}"
    else:
        direction = f"difference is {experimental} − {control}; the protocol does not say which direction is better"
    return ContinuousResult(outcome, experimental, control, {experimental: m1, control: m0},
                            {experimental: math.sqrt(v1), control: math.sqrt(v0)}, {experimental: n1, control: n0},
                            welch, pooled, anc, covariate_names, direction)
