"""Small result objects shared by the estimators: an estimate with its interval and p-value.

References
----------
Agresti A (2013). Categorical Data Analysis, 3rd ed. Wiley, section 1.3 (Wald intervals and tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Estimate:
    """One effect measure: point estimate, confidence interval and two-sided p-value, with the method used."""

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    method: str
    se: float | None = None  # on the scale the interval was built (log scale for ratios)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"estimate": clean(self.estimate), "ci_low": clean(self.ci_low),
                               "ci_high": clean(self.ci_high), "p_value": clean(self.p_value),
                               "method": self.method}
        if self.se is not None:
            out["se"] = clean(self.se)
        return out

    def __str__(self) -> str:
        return f"{fmt(self.estimate)} ({fmt(self.ci_low)} to {fmt(self.ci_high)}), p = {fmt_p(self.p_value)}"


def clean(value: float | None) -> float | None:
    """JSON has no NaN or infinity: they become null."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "NA" if value is None or math.isnan(value) else ("Inf" if value > 0 else "-Inf")
    return f"{value:.{digits}f}"


def fmt_p(p: float) -> str:
    if not math.isfinite(p):
        return "NA"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def z_quantile(conf_level: float) -> float:
    return float(stats.norm.ppf(1 - (1 - conf_level) / 2))


def wald(estimate: float, se: float, conf_level: float, method: str, *, log_scale: bool = False,
         null: float = 0.0) -> Estimate:
    """Wald interval and two-sided p-value; on the log scale for ratio measures (estimate given on log scale)."""
    z = z_quantile(conf_level)
    if not math.isfinite(se) or se <= 0:
        lo = hi = p = math.nan
    else:
        lo, hi = estimate - z * se, estimate + z * se
        p = float(2 * stats.norm.sf(abs(estimate - null) / se))
    if log_scale:
        with np.errstate(over="ignore"):  # a bound beyond e^709 (sparse data) is infinite, not a warning
            return Estimate(float(np.exp(estimate)), float(np.exp(lo)), float(np.exp(hi)), p, method, se)
    return Estimate(estimate, lo, hi, p, method, se)
