"""Kaplan–Meier curves with pointwise intervals, their median with the interval R's survival computes, the
log-rank test (stratified too) and the Aalen–Johansen cumulative incidence with a competing risk.

References
----------
Kaplan EL, Meier P (1958). Nonparametric estimation from incomplete observations. JASA 53:457-481.
Greenwood M (1926). The natural duration of cancer. Reports on Public Health and Medical Subjects 33. HMSO.
Brookmeyer R, Crowley J (1982). A confidence interval for the median survival time. Biometrics 38:29-41.
Mantel N (1966). Evaluation of survival data and two new rank order statistics arising in its consideration.
Cancer Chemother Rep 50:163-170. Peto R, Peto J (1972). Asymptotically efficient rank invariant test
procedures. J R Stat Soc A 135:185-207.
Aalen OO, Johansen S (1978). An empirical transition matrix for non-homogeneous Markov chains based on censored
observations. Scand J Stat 5:141-150.
Therneau TM. survival: a package for survival analysis in R (``survfit``, ``survdiff``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

from equipoise.analyze.results import clean, fmt, fmt_p, z_quantile

ConfType = Literal["log", "log-log", "plain"]


@dataclass(frozen=True)
class KaplanMeier:
    """Product-limit estimate at every distinct time (events and censorings), as survfit() lists it.

    ``std_err`` is Greenwood's standard error of log S(t) (the ``std.err`` survfit reports); the interval is
    pointwise, on the ``conf_type`` scale (survfit's default "log")."""

    time: npt.NDArray[np.float64]
    n_risk: npt.NDArray[np.int64]
    n_event: npt.NDArray[np.int64]
    n_censor: npt.NDArray[np.int64]
    surv: npt.NDArray[np.float64]
    std_err: npt.NDArray[np.float64]
    lower: npt.NDArray[np.float64]
    upper: npt.NDArray[np.float64]
    conf_type: str
    conf_level: float

    def at(self, t: float) -> float:
        i = int(np.searchsorted(self.time, t, side="right")) - 1
        return 1.0 if i < 0 else float(self.surv[i])

    def n_at_risk(self, t: float) -> int:
        """Number still at risk just before time t (for the numbers-at-risk table under a plot)."""
        i = int(np.searchsorted(self.time, t, side="left"))
        return int(self.n_risk[i]) if i < len(self.time) else 0

    def median(self) -> Median:
        return km_quantile(self, 0.5)

    def to_dict(self) -> dict[str, Any]:
        return {"time": self.time.tolist(), "n_risk": self.n_risk.tolist(), "n_event": self.n_event.tolist(),
                "surv": [clean(v) for v in self.surv], "std_err": [clean(v) for v in self.std_err],
                "lower": [clean(v) for v in self.lower], "upper": [clean(v) for v in self.upper],
                "conf_type": self.conf_type, "conf_level": self.conf_level}

    def __str__(self) -> str:
        m = self.median()
        n = int(self.n_risk[0]) if len(self.n_risk) else 0
        last = f"; S({fmt(float(self.time[-1]), 1)}) = {fmt(float(self.surv[-1]))}" if len(self.time) else ""
        return (f"Kaplan–Meier: n = {n}, {int(self.n_event.sum())} events; median {m}, {100 * self.conf_level:g}% CI "
                f"on the {self.conf_type} scale{last}")


@dataclass(frozen=True)
class Median:
    estimate: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, Any]:
        return {"estimate": clean(self.estimate), "ci_low": clean(self.ci_low), "ci_high": clean(self.ci_high)}

    def __str__(self) -> str:
        return f"{fmt(self.estimate, 1)} ({fmt(self.ci_low, 1)} to {fmt(self.ci_high, 1)})"


def kaplan_meier(time: npt.ArrayLike, event: npt.ArrayLike, *, conf_level: float = 0.95,
                 conf_type: ConfType = "log") -> KaplanMeier:
    """Kaplan & Meier (1958); Greenwood (1926) variance; interval transforms as in survfit (Therneau).

    References
    ----------
    Kaplan EL, Meier P (1958). Nonparametric estimation from incomplete observations. JASA 53:457-481.
    Greenwood M (1926). The natural duration of cancer. Reports on Public Health and Medical Subjects 33.
    """
    t = np.asarray(time, float)
    e = np.asarray(event).astype(bool)
    times, inverse = np.unique(t, return_inverse=True)
    d = np.bincount(inverse, weights=e, minlength=len(times)).astype(np.int64)
    m = np.bincount(inverse, minlength=len(times)).astype(np.int64)
    at_risk = (len(t) - np.concatenate([[0], np.cumsum(m)[:-1]])).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.asarray(np.cumprod(1 - d / at_risk), dtype=np.float64)
        var = np.cumsum(np.where(d > 0, d / (at_risk * (at_risk - d)), 0.0))
    se = np.asarray(np.sqrt(var), dtype=np.float64)
    z = z_quantile(conf_level)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log":
            lower, upper = surv * np.exp(-z * se), np.minimum(1.0, surv * np.exp(z * se))
        elif conf_type == "log-log":
            inner = np.where((surv > 0) & (surv < 1), surv, np.nan)
            xx = np.log(-np.log(inner))
            lower = np.exp(-np.exp(xx - z * se / np.log(inner)))
            upper = np.exp(-np.exp(xx + z * se / np.log(inner)))
        else:
            lower, upper = np.maximum(0.0, surv - z * se * surv), np.minimum(1.0, surv + z * se * surv)
    bad = (surv <= 0) | ~np.isfinite(se)
    lower = np.asarray(np.where(bad, np.nan, lower), dtype=np.float64)
    upper = np.asarray(np.where(bad, np.nan, upper), dtype=np.float64)
    std_err = np.asarray(np.where(np.isfinite(se), se, np.nan), dtype=np.float64)
    return KaplanMeier(times, at_risk, d, m - d, surv, std_err, lower, upper, conf_type, conf_level)


def _findq(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], p: float, tol: float) -> float:
    """The p-quantile of a step CDF y(x), taking the middle of a flat stretch at exactly p (survival's findq)."""
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return math.nan
    xmax = x[-1]
    _, first = np.unique(np.where(np.isnan(y), np.inf, y), return_index=True)
    keep = np.sort(first)
    x, y = x[keep], y[keep]
    ok = ~np.isnan(y)

    def first_at_least(shift: float) -> int | None:
        hits = np.flatnonzero(ok & (y + shift >= p))
        return int(hits[0]) if len(hits) else None

    i1, i2 = first_at_least(tol), first_at_least(-tol)
    last = int(np.flatnonzero(ok)[-1])
    if i1 is not None and abs(p - y[last]) < tol and not np.isnan(y[-1]):
        return float((x[i1] + xmax) / 2)
    if i1 is None or i2 is None:
        return math.nan
    return float((x[i1] + x[i2]) / 2)


def km_quantile(km: KaplanMeier, p: float, tol: float = math.sqrt(np.finfo(float).eps)) -> Median:
    """Quantile of the survival time and its interval from the pointwise band (Brookmeyer & Crowley 1982),
    exactly as R's quantile.survfit: each limit is where that band crosses 1 − p.

    References
    ----------
    Brookmeyer R, Crowley J (1982). A confidence interval for the median survival time. Biometrics 38:29-41.
    """
    x = np.concatenate([[0.0], km.time])

    def q(curve: npt.NDArray[np.float64]) -> float:
        return _findq(x, np.concatenate([[0.0], 1 - curve]), p, tol)

    return Median(q(km.surv), q(km.lower), q(km.upper))


@dataclass(frozen=True)
class LogRank:
    """Log-rank test (Mantel 1966; Peto & Peto 1972), stratified by summing O − E and V over strata (survdiff)."""

    chisq: float
    p_value: float
    observed: tuple[float, float]  # experimental, control
    expected: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {"chisq": clean(self.chisq), "p_value": clean(self.p_value), "observed": list(self.observed),
                "expected": [clean(v) for v in self.expected]}

    def __str__(self) -> str:
        (o1, o0), (e1, e0) = self.observed, self.expected
        return (f"Log-rank chi-square {fmt(self.chisq)} on 1 df, p = {fmt_p(self.p_value)}; observed/expected "
                f"events: experimental {o1:g}/{fmt(e1, 1)}, control {o0:g}/{fmt(e0, 1)}")


def logrank(time: npt.ArrayLike, event: npt.ArrayLike, group: npt.ArrayLike, strata: npt.ArrayLike | None = None
            ) -> LogRank:
    """``group`` is 1 for the experimental arm and 0 for control.

    References
    ----------
    Mantel N (1966). Cancer Chemother Rep 50:163-170. Peto R, Peto J (1972). J R Stat Soc A 135:185-207.
    """
    t = np.asarray(time, float)
    e = np.asarray(event).astype(float)
    g = np.asarray(group).astype(float)
    s = np.zeros(len(t), np.intp) if strata is None else np.unique(np.asarray(strata), return_inverse=True)[1]
    o_minus_e = var = obs1 = exp1 = 0.0
    for k in np.unique(s):
        sel = s == k
        tt, ee, gg = t[sel], e[sel], g[sel]
        times, inv = np.unique(tt, return_inverse=True)
        d = np.bincount(inv, weights=ee, minlength=len(times))
        d1 = np.bincount(inv, weights=ee * gg, minlength=len(times))
        m = np.bincount(inv, minlength=len(times))
        m1 = np.bincount(inv, weights=gg, minlength=len(times))
        n = len(tt) - np.concatenate([[0], np.cumsum(m)[:-1]])
        n1 = gg.sum() - np.concatenate([[0], np.cumsum(m1)[:-1]])
        e1 = d * n1 / n
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(n > 1, d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1), 0.0)
        obs1 += d1.sum()
        exp1 += e1.sum()
        o_minus_e += (d1 - e1).sum()
        var += v.sum()
    chisq = o_minus_e**2 / var if var > 0 else math.nan
    total = float(e.sum())
    return LogRank(float(chisq), float(stats.chi2.sf(chisq, 1)) if var > 0 else math.nan,
                   (float(obs1), total - float(obs1)), (float(exp1), total - float(exp1)))


@dataclass(frozen=True)
class CumulativeIncidence:
    """Aalen–Johansen cumulative incidence of the event of interest with competing events (Aalen & Johansen
    1978), with the infinitesimal-jackknife standard error and the log-transformed pointwise interval; equal
    to survfit(Surv(time, factor(status)) ~ 1)'s pstate, std.err, lower and upper for that state."""

    time: npt.NDArray[np.float64]
    n_risk: npt.NDArray[np.int64]
    incidence: npt.NDArray[np.float64]
    competing_incidence: npt.NDArray[np.float64]
    std_err: npt.NDArray[np.float64]
    lower: npt.NDArray[np.float64]
    upper: npt.NDArray[np.float64]

    def at(self, t: float) -> float:
        i = int(np.searchsorted(self.time, t, side="right")) - 1
        return 0.0 if i < 0 else float(self.incidence[i])

    def interval_at(self, t: float) -> tuple[float, float]:
        i = int(np.searchsorted(self.time, t, side="right")) - 1
        return (0.0, 0.0) if i < 0 else (float(self.lower[i]), float(self.upper[i]))

    def to_dict(self) -> dict[str, Any]:
        return {"time": self.time.tolist(), "n_risk": self.n_risk.tolist(),
                "incidence": self.incidence.tolist(), "competing_incidence": self.competing_incidence.tolist(),
                "std_err": [clean(v) for v in self.std_err], "lower": [clean(v) for v in self.lower],
                "upper": [clean(v) for v in self.upper]}

    def __str__(self) -> str:
        n = int(self.n_risk[0]) if len(self.n_risk) else 0
        if not len(self.time):
            return f"Cumulative incidence (Aalen–Johansen): n = {n}, no follow-up"
        t = float(self.time[-1])
        low, high = self.interval_at(t)
        return (f"Cumulative incidence (Aalen–Johansen): n = {n}; by time {fmt(t, 1)}: {fmt(self.at(t))} "
                f"({fmt(low)} to {fmt(high)}); competing events {fmt(float(self.competing_incidence[-1]))}")


def cumulative_incidence(time: npt.ArrayLike, status: npt.ArrayLike, conf_level: float = 0.95
                         ) -> CumulativeIncidence:
    """``status``: 0 censored, 1 the event of interest, 2 a competing event.

    The standard error is the infinitesimal jackknife (Efron 1982), as survfit computes it for multi-state
    curves: the influence of each patient on S(t-) and on the increments d1(t) / Y(t), accumulated over the
    distinct times; O(n x distinct times), meant for trial-sized data.

    References
    ----------
    Aalen OO, Johansen S (1978). Scand J Stat 5:141-150. Efron B (1982). The Jackknife, the Bootstrap and Other
    Resampling Plans. SIAM (the infinitesimal jackknife).
    """
    t = np.asarray(time, float)
    st = np.asarray(status).astype(int)
    times, inv = np.unique(t, return_inverse=True)
    d1 = np.bincount(inv, weights=(st == 1), minlength=len(times))
    d2 = np.bincount(inv, weights=(st == 2), minlength=len(times))
    m = np.bincount(inv, minlength=len(times))
    n = len(t) - np.concatenate([[0], np.cumsum(m)[:-1]])
    surv = np.cumprod(1 - (d1 + d2) / n)
    before = np.concatenate([[1.0], surv[:-1]])
    inc1 = np.cumsum(before * d1 / n)
    inc2 = np.cumsum(before * d2 / n)
    infl_s = np.zeros(len(t))  # influence of each patient on S(u-)
    infl_f = np.zeros(len(t))
    se = np.zeros(len(times))
    for j, u in enumerate(times):
        at_risk = (t >= u).astype(float)
        here = inv == j
        dn1_i = (here & (st == 1)).astype(float)
        dn_i = (here & (st > 0)).astype(float)
        y, e1, e = n[j], d1[j], d1[j] + d2[j]
        infl_f += infl_s * e1 / y + before[j] * (dn1_i - at_risk * e1 / y) / y
        se[j] = math.sqrt(float(np.sum(infl_f**2)))
        infl_s = (infl_s * (1 - e / y) - before[j] * (dn_i * y - e * at_risk) / (y * y)) if y > e else \
            np.zeros(len(t))
    z = z_quantile(conf_level)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(inc1 > 0, inc1 * np.exp(-z * se / inc1), np.nan)
        upper = np.where(inc1 > 0, np.minimum(1.0, inc1 * np.exp(z * se / inc1)), np.nan)
    return CumulativeIncidence(times, n.astype(np.int64), np.asarray(inc1, np.float64), np.asarray(inc2, np.float64),
                               se, np.asarray(lower, np.float64), np.asarray(upper, np.float64))
