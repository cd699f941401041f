"""The pooled estimate of one meta-analysis: the numbers every method returns, in one frozen result.

References
----------
Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat Softw 36(3):1-48.
Higgins JPT, Thompson SG (2002). Quantifying heterogeneity in a meta-analysis. Stat Med 21:1539-1558.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from equipoise.errors import UserError
from equipoise.evidence.effect_sizes import EffectSizes, Measure
from equipoise.evidence.tau2 import Tau2Method


class Method(StrEnum):
    MH = "MH"
    PETO = "Peto"
    FE = "FE"
    DL = "DL"
    REML = "REML"
    ML = "ML"
    PM = "PM"
    SJ = "SJ"
    HE = "HE"
    HS = "HS"
    EB = "EB"

    @property
    def is_random(self) -> bool:
        return self not in (Method.MH, Method.PETO, Method.FE)

    @property
    def tau2_method(self) -> Tau2Method:
        """The tau^2 estimator of a random-effects method (its members are Tau2Method's, by name)."""
        if not self.is_random:
            raise ValueError(f"{self.value} is a fixed-effect method: it estimates no tau^2")
        return Tau2Method(self.value)


def parse_method(text: str) -> Method:
    for m in Method:
        if m.value.upper() == text.upper():
            return m
    raise UserError(f"--method: {text!r} is not one of {', '.join(m.value for m in Method)}")


def _nan_to_none(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True)
class Pooled:
    """One fitted model: the estimate on the analysis scale (log for RR/OR) with its test and intervals,
    heterogeneity (Q, I^2 in percent, H^2, tau^2 with its Q-profile interval) and the prediction interval.

    ``weights`` are the per-trial weights in percent (inverse-variance, Mantel-Haenszel or Peto weights).
    """

    measure: Measure
    method: Method
    hksj: bool
    effects: EffectSizes
    k: int
    beta: float
    se: float
    statistic: float
    p_value: float
    ci_lb: float
    ci_ub: float
    tau2: float
    tau2_ci_lb: float
    tau2_ci_ub: float
    q: float
    q_p: float
    i2: float
    h2: float
    pi_lb: float
    pi_ub: float
    weights: np.ndarray
    df: int | None = None  # t degrees of freedom under HKSJ

    def natural(self, value: float) -> float:
        """The analysis-scale value on the effect's natural scale (exp for ratios)."""
        return math.exp(value) if self.measure.is_ratio and math.isfinite(value) else value

    @property
    def estimate(self) -> float:
        return self.natural(self.beta)

    def summary_dict(self) -> dict[str, Any]:
        """The issue's keys, on the natural scale, NaN as null."""
        n = self.natural
        return {
            "estimate": _nan_to_none(n(self.beta)), "ci_low": _nan_to_none(n(self.ci_lb)),
            "ci_high": _nan_to_none(n(self.ci_ub)), "k": self.k, "tau2": _nan_to_none(self.tau2),
            "tau2_ci_low": _nan_to_none(self.tau2_ci_lb), "tau2_ci_high": _nan_to_none(self.tau2_ci_ub),
            "i2": _nan_to_none(self.i2), "h2": _nan_to_none(self.h2), "q": _nan_to_none(self.q),
            "q_p": _nan_to_none(self.q_p), "pi_low": _nan_to_none(n(self.pi_lb)),
            "pi_high": _nan_to_none(n(self.pi_ub)), "log_estimate": _nan_to_none(self.beta),
            "se": _nan_to_none(self.se), "statistic": _nan_to_none(self.statistic),
            "p_value": _nan_to_none(self.p_value), "df": self.df,
        }

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"measure": self.measure.value, "method": self.method.value, "hksj": self.hksj}
        d.update(self.summary_dict())
        d["zero_cells"] = self.effects.zero_cell_note()
        d["studies"] = [
            {"study": s, "yi": float(y), "vi": float(v), "weight": float(w)}
            for s, y, v, w in zip(self.effects.studies, self.effects.yi, self.effects.vi, self.weights,
                                  strict=True)]
        return d

    def __str__(self) -> str:
        n = self.natural
        stat = f"t({self.df})" if self.df is not None else "z"
        text = (f"{self.method.value}{' + HKSJ' if self.hksj else ''} pooled {self.measure.label} of {self.k} trials: "
                f"{n(self.beta):.4f} (95% CI {n(self.ci_lb):.4f} to {n(self.ci_ub):.4f}), {stat} = "
                f"{self.statistic:.4f}, p = {self.p_value:.4g}; I^2 = {self.i2:.1f}%")
        return text + (f", tau^2 = {self.tau2:.4f}" if self.method.is_random else "")
