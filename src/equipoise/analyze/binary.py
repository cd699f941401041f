"""Binary outcomes: risk difference, risk ratio and odds ratio, stratified Mantel–Haenszel, logistic regression.

Conventions: every measure is experimental versus control (difference = p_e − p_c, ratios = p_e / p_c and
odds_e / odds_c). p-values are two-sided.

References
----------
Wilson EB (1927). Probable inference, the law of succession, and statistical inference. JASA 22:209-212.
Clopper CJ, Pearson ES (1934). The use of confidence or fiducial limits illustrated in the case of the binomial.
Biometrika 26:404-413.
Newcombe RG (1998). Interval estimation for the difference between independent proportions: comparison of
eleven methods. Stat Med 17:873-890.
Mantel N, Haenszel W (1959). Statistical aspects of the analysis of data from retrospective studies of disease.
J Natl Cancer Inst 22:719-748. Robins J, Breslow N, Greenland S (1986). Biometrics 42:311-323. Greenland S,
Robins JM (1985). Biometrics 41:55-68. Sato T, Greenland S, Robins JM (1989). Biometrics 45:1323-1324.
Agresti A (2013). Categorical Data Analysis, 3rd ed. Wiley (Fisher's exact test, conditional ML odds ratio).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import stats
from scipy.stats.contingency import odds_ratio as scipy_odds_ratio

from equipoise.analyze.results import Estimate, clean, fmt, fmt_p, wald, z_quantile

Interval = Literal["wald", "newcombe", "exact"]
RatioMeasure = Literal["risk-ratio", "odds-ratio"]
INTERVALS: tuple[str, ...] = ("wald", "newcombe", "exact")


@dataclass(frozen=True)
class ArmCount:
    arm: str
    events: int
    n: int
    wilson_low: float
    wilson_high: float
    exact_low: float
    exact_high: float

    @property
    def proportion(self) -> float:
        return self.events / self.n if self.n else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {"arm": self.arm, "events": self.events, "n": self.n, "proportion": clean(self.proportion),
                "wilson": [clean(self.wilson_low), clean(self.wilson_high)],
                "clopper_pearson": [clean(self.exact_low), clean(self.exact_high)]}

    def __str__(self) -> str:
        return (f"{self.arm}: {self.events}/{self.n} ({fmt(100 * self.proportion, 1)}%; Wilson "
                f"{fmt(100 * self.wilson_low, 1)} to {fmt(100 * self.wilson_high, 1)}%, Clopper–Pearson "
                f"{fmt(100 * self.exact_low, 1)} to {fmt(100 * self.exact_high, 1)}%)")


def wilson_interval(x: int, n: int, conf_level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval without continuity correction (Wilson 1927; R prop.test(correct = FALSE)).

    References
    ----------
    Wilson EB (1927). Probable inference, the law of succession, and statistical inference. JASA 22:209-212.
    """
    if n == 0:
        return math.nan, math.nan
    z = z_quantile(conf_level)
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def clopper_pearson(x: int, n: int, conf_level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval (Clopper & Pearson 1934; R binom.test).

    References
    ----------
    Clopper CJ, Pearson ES (1934). The use of confidence or fiducial limits illustrated in the case of the binomial.
    Biometrika 26:404-413.
    """
    if n == 0:
        return math.nan, math.nan
    a = 1 - conf_level
    lo = 0.0 if x == 0 else float(stats.beta.ppf(a / 2, x, n - x + 1))
    hi = 1.0 if x == n else float(stats.beta.ppf(1 - a / 2, x + 1, n - x))
    return lo, hi


def arm_count(arm: str, x: int, n: int, conf_level: float = 0.95) -> ArmCount:
    return ArmCount(arm, x, n, *wilson_interval(x, n, conf_level), *clopper_pearson(x, n, conf_level))


def pearson_chisq_p(x1: int, n1: int, x0: int, n0: int) -> float:
    """Pearson chi-square test of equal proportions without continuity correction (prop.test(correct=FALSE))."""
    p = (x1 + x0) / (n1 + n0)
    if p in (0.0, 1.0):
        return 1.0
    z = (x1 / n1 - x0 / n0) / math.sqrt(p * (1 - p) * (1 / n1 + 1 / n0))
    return float(2 * stats.norm.sf(abs(z)))


def log_ratio_wald(x_e: npt.ArrayLike, n_e: npt.ArrayLike, x_c: npt.ArrayLike, n_c: npt.ArrayLike,
                   measure: RatioMeasure) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(log ratio, Wald SE) element by element, with the Haldane 0.5 correction where a cell is zero (Katz 1978;
    Woolf 1955; Haldane 1956). Vectorized: ``simulate`` decides millions of simulated tables with the same
    statistic that ``two_by_two`` reports and ``analyze interim`` monitors."""
    a, c = np.asarray(x_e, dtype=float), np.asarray(x_c, dtype=float)
    b, d = np.asarray(n_e, dtype=float) - a, np.asarray(n_c, dtype=float) - c
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    half = np.where(zero, 0.5, 0.0)
    a, b, c, d = a + half, b + half, c + half, d + half
    if measure == "risk-ratio":
        log_ratio = np.log(a / (a + b)) - np.log(c / (c + d))
        var = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
    else:
        log_ratio = np.log(a) + np.log(d) - np.log(b) - np.log(c)
        var = 1 / a + 1 / b + 1 / c + 1 / d
    return log_ratio, np.sqrt(var)


def two_by_two(x1: int, n1: int, x0: int, n0: int, conf_level: float = 0.95) -> dict[str, Estimate]:
    """Every interval we offer for the three measures, keyed ``measure.method``.

    - Wald: RD with the unpooled variance; RR and OR on the log scale (Katz 1978; Woolf 1955). When a cell is
      zero, 0.5 is added to every cell for RR and OR (Haldane 1956), as the method text says.
    - Newcombe: the hybrid Wilson score interval for RD (Newcombe 1998, method 10), with the Pearson
      chi-square p-value.
    - Exact: conditional maximum-likelihood OR with Fisher's exact interval and p-value (R fisher.test).

    References
    ----------
    Newcombe RG (1998). Stat Med 17:873-890 (method 10). Katz D et al. (1978). Biometrics 34:469-474. Woolf B
    (1955). Ann Hum Genet 19:251-253. Haldane JBS (1956). Ann Hum Genet 20:309-311.
    """
    out: dict[str, Estimate] = {}
    p1, p0 = x1 / n1, x0 / n0
    rd = p1 - p0
    out["risk_difference.wald"] = wald(rd, math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0), conf_level,
                                       "Wald (unpooled variance)")
    l1, u1 = wilson_interval(x1, n1, conf_level)
    l0, u0 = wilson_interval(x0, n0, conf_level)
    lo = rd - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    hi = rd + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    out["risk_difference.newcombe"] = Estimate(rd, lo, hi, pearson_chisq_p(x1, n1, x0, n0),
                                               "Newcombe hybrid Wilson score; Pearson chi-square p")
    zero = 0 in (x1, n1 - x1, x0, n0 - x0)
    note = " with 0.5 added to each cell (a cell is zero)" if zero else ""
    log_rr, se_rr = log_ratio_wald(x1, n1, x0, n0, "risk-ratio")
    out["risk_ratio.wald"] = wald(float(log_rr), float(se_rr), conf_level, "Wald on the log scale" + note,
                                  log_scale=True)
    log_or, se_or = log_ratio_wald(x1, n1, x0, n0, "odds-ratio")
    out["odds_ratio.wald"] = wald(float(log_or), float(se_or), conf_level, "Woolf (Wald on the log scale)" + note,
                                  log_scale=True)
    table = np.array([[x1, n1 - x1], [x0, n0 - x0]])
    res = scipy_odds_ratio(table, kind="conditional")
    ci = res.confidence_interval(confidence_level=conf_level)
    fisher_p = float(stats.fisher_exact(table).pvalue)
    out["odds_ratio.exact"] = Estimate(float(res.statistic), float(ci.low), float(ci.high), fisher_p,
                                       "conditional MLE with Fisher's exact interval and p (fisher.test)")
    return out


def _boundary(numerator: float, denominator: float, what: str) -> Estimate:
    """A ratio with a zero numerator or denominator: 0 or infinity, no interval (R's mantelhaen.test gives 0 and a
    NaN interval; metafor's rma.mh gives NA)."""
    value = 0.0 if numerator == 0 and denominator > 0 else math.inf if denominator == 0 and numerator > 0 else math.nan
    return Estimate(value, math.nan, math.nan, math.nan, f"{what}: no events in one arm, no interval", math.nan)


@dataclass(frozen=True)
class MantelHaenszel:
    """Stratified estimates over K 2x2 tables (Mantel & Haenszel 1959)."""

    risk_difference: Estimate
    risk_ratio: Estimate
    odds_ratio: Estimate
    cmh_chisq: float
    cmh_p: float
    strata: int

    def to_dict(self) -> dict[str, Any]:
        return {"risk_difference": self.risk_difference.to_dict(), "risk_ratio": self.risk_ratio.to_dict(),
                "odds_ratio": self.odds_ratio.to_dict(), "cmh_chisq": clean(self.cmh_chisq),
                "cmh_p": clean(self.cmh_p), "strata": self.strata}

    def __str__(self) -> str:
        return "\n".join([f"Mantel–Haenszel over {self.strata} strata",
                          f"  risk difference  {self.risk_difference}",
                          f"  risk ratio       {self.risk_ratio}",
                          f"  odds ratio       {self.odds_ratio}",
                          f"  CMH chi-square {fmt(self.cmh_chisq)} on 1 df, p = {fmt_p(self.cmh_p)}"])


def mantel_haenszel(x1: npt.ArrayLike, n1: npt.ArrayLike, x0: npt.ArrayLike, n0: npt.ArrayLike,
                    conf_level: float = 0.95) -> MantelHaenszel:
    """Mantel–Haenszel RD, RR and OR across strata with their variances, as metafor's rma.mh computes them.

    Variances: OR by Robins, Breslow & Greenland (1986); RR by Greenland & Robins (1985); RD by Sato, Greenland
    & Robins (1989). Cochran–Mantel–Haenszel chi-square without
    continuity correction (R mantelhaen.test(correct = FALSE)). Strata with a zero margin contribute nothing.

    References
    ----------
    Mantel N, Haenszel W (1959). J Natl Cancer Inst 22:719-748. Robins J, Breslow N, Greenland S (1986).
    Biometrics 42:311-323. Greenland S, Robins JM (1985). Biometrics 41:55-68. Sato T, Greenland S, Robins JM
    (1989). Biometrics 45:1323-1324.
    """
    a = np.asarray(x1, float)
    n1a = np.asarray(n1, float)
    c = np.asarray(x0, float)
    n0a = np.asarray(n0, float)
    b, d = n1a - a, n0a - c
    n = n1a + n0a
    keep = (n1a > 0) & (n0a > 0)
    a, b, c, d, n1a, n0a, n = a[keep], b[keep], c[keep], d[keep], n1a[keep], n0a[keep], n[keep]
    # odds ratio, RBG variance
    r, s = a * d / n, b * c / n
    R, S = r.sum(), s.sum()
    P, Q = (a + d) / n, (b + c) / n
    if R > 0 and S > 0:
        var_log_or = ((P * r).sum() / (2 * R**2) + (P * s + Q * r).sum() / (2 * R * S) + (Q * s).sum() / (2 * S**2))
        odds = wald(math.log(R / S), math.sqrt(var_log_or), conf_level,
                    "Mantel–Haenszel; Robins–Breslow–Greenland variance", log_scale=True)
    else:  # no event (or no non-event) in one arm of every stratum: 0 or infinity, no interval (mantelhaen.test)
        odds = _boundary(R, S, "Mantel–Haenszel odds ratio")
    # risk ratio, Greenland–Robins variance
    rr_num, rr_den = (a * n0a / n).sum(), (c * n1a / n).sum()
    if rr_num > 0 and rr_den > 0:
        var_log_rr = ((n1a * n0a * (a + c) - a * c * n) / n**2).sum() / (rr_num * rr_den)
        ratio = wald(math.log(rr_num / rr_den), math.sqrt(var_log_rr), conf_level,
                     "Mantel–Haenszel; Greenland–Robins variance", log_scale=True)
    else:
        ratio = _boundary(rr_num, rr_den, "Mantel–Haenszel risk ratio")
    # risk difference
    w = n1a * n0a / n
    rd = ((a * n0a - c * n1a) / n).sum() / w.sum()
    # Sato, Greenland & Robins (1989) variance, consistent in both sparse and large strata (as metafor)
    f1, f0 = n1a / n, n0a / n
    var_rd = (rd * (c * f1**2 - a * f0**2 + f1 * f0 * (n0a - n1a) / 2).sum()
              + (a * (n0a - c) / n + c * (n1a - a) / n).sum() / 2) / w.sum() ** 2
    diff = wald(float(rd), math.sqrt(var_rd), conf_level, "Mantel–Haenszel; Sato–Greenland–Robins variance")
    # CMH test
    m1 = a + c
    expected = n1a * m1 / n
    var_a = n1a * n0a * m1 * (n - m1) / (n**2 * (n - 1))
    var_a = np.where(n > 1, var_a, 0.0)
    chisq = float((a.sum() - expected.sum()) ** 2 / var_a.sum()) if var_a.sum() > 0 else math.nan
    p = float(stats.chi2.sf(chisq, 1)) if math.isfinite(chisq) else math.nan
    return MantelHaenszel(diff, ratio, odds, chisq, p, int(keep.sum()))


@dataclass(frozen=True)
class LogisticFit:
    """Logistic regression of the outcome on arm and covariates (maximum likelihood, Wald intervals)."""

    odds_ratio: Estimate  # arm effect, adjusted
    coefficients: dict[str, tuple[float, float]]  # name -> (estimate, se)
    log_likelihood: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {"odds_ratio": self.odds_ratio.to_dict(), "n": self.n, "log_likelihood": clean(self.log_likelihood),
                "coefficients": {k: {"estimate": clean(v[0]), "se": clean(v[1])} for k, v in self.coefficients.items()}}

    def __str__(self) -> str:
        lines = [f"Logistic regression (n = {self.n}, log-likelihood {fmt(self.log_likelihood)}): "
                 f"adjusted odds ratio {self.odds_ratio}"]
        lines += [f"  {name:<20} {fmt(est, 4):>10} (SE {fmt(se, 4)})" for name, (est, se) in self.coefficients.items()]
        return "\n".join(lines)


def logistic_regression(y: npt.ArrayLike, X: npt.ArrayLike, names: list[str], conf_level: float = 0.95,
                        arm_column: int = 1) -> LogisticFit:
    """Fit by iteratively reweighted least squares through statsmodels' GLM (the same fit as R's glm).

    References
    ----------
    McCullagh P, Nelder JA (1989). Generalized Linear Models, 2nd ed. Chapman & Hall, ch. 4 (binary data, IRLS).
    """
    import statsmodels.api as sm

    yv = np.asarray(y, float)
    Xv = np.asarray(X, float)
    fit = sm.GLM(yv, Xv, family=sm.families.Binomial()).fit(tol=1e-12)
    params, bse = np.asarray(fit.params), np.asarray(fit.bse)
    arm = wald(float(params[arm_column]), float(bse[arm_column]), conf_level,
               "logistic regression (maximum likelihood, Wald interval)", log_scale=True)
    coefs = {name: (float(params[i]), float(bse[i])) for i, name in enumerate(names)}
    return LogisticFit(arm, coefs, float(fit.llf), len(yv))


@dataclass(frozen=True)
class BinaryResult:
    """Comparison of a binary outcome between an experimental arm and the control arm."""

    outcome: str
    experimental: str
    control: str
    arms: tuple[ArmCount, ArmCount]  # experimental, control
    risk_difference: Estimate
    risk_ratio: Estimate
    odds_ratio: Estimate
    interval: str
    all_intervals: dict[str, Estimate]
    direction: str
    stratified: MantelHaenszel | None = None
    strata: tuple[str, ...] = ()
    logistic: LogisticFit | None = None
    n_missing: int = 0
    notes: tuple[str, ...] = field(default=())
    missing_by_arm: dict[str, int] = field(default_factory=dict)
    missing_reason: str = "a missing outcome"

    def to_dict(self) -> dict[str, Any]:
        return {
            "analysis": "binary", "n_analysed": sum(a.n for a in self.arms), "n_missing_by_arm": self.missing_by_arm,
            "missing_reason": self.missing_reason, "outcome": self.outcome, "experimental": self.experimental,
            "control": self.control, "arms": [a.to_dict() for a in self.arms],
            "risk_difference": self.risk_difference.to_dict(), "risk_ratio": self.risk_ratio.to_dict(),
            "odds_ratio": self.odds_ratio.to_dict(), "interval": self.interval, "direction": self.direction,
            "strata": list(self.strata),
            "mantel_haenszel": self.stratified.to_dict() if self.stratified else None,
            "logistic": self.logistic.to_dict() if self.logistic else None,
            "all_intervals": {k: v.to_dict() for k, v in self.all_intervals.items()},
            "n_missing": self.n_missing, "notes": list(self.notes),
        }

    def __str__(self) -> str:
        e, c = self.arms
        lines = [f"Binary outcome {self.outcome}: {self.experimental} vs {self.control}",
                 f"  {e.arm}: {e.events}/{e.n} ({fmt(100 * e.proportion, 1)}%)",
                 f"  {c.arm}: {c.events}/{c.n} ({fmt(100 * c.proportion, 1)}%)"]
        if self.n_missing:
            by_arm = ", ".join(f"{arm} {k}" for arm, k in self.missing_by_arm.items() if k)
            lines.append(f"  {e.n + c.n} patients analysed; {self.n_missing} with {self.missing_reason} excluded"
                         + (f" ({by_arm})" if by_arm else ""))
        if self.strata:
            k = self.stratified.strata if self.stratified else 0
            lines.append(f"  stratified by {', '.join(self.strata)} (Mantel–Haenszel, {k} strata)")
        lines += [f"  risk difference  {self.risk_difference}   [{self.risk_difference.method}]",
                  f"  risk ratio       {self.risk_ratio}   [{self.risk_ratio.method}]",
                  f"  odds ratio       {self.odds_ratio}   [{self.odds_ratio.method}]"]
        if self.logistic:
            lines.append(f"  adjusted OR      {self.logistic.odds_ratio}   [logistic regression]")
        lines.append(f"  direction: {self.direction}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def binary_direction(better: str | None, experimental: str, control: str = "control") -> str:
    base = f"differences are {experimental} − {control}, ratios {experimental} / {control}"
    if better == "lower":
        return f"{base}; fewer events are better, so values below 0 (difference) or 1 (ratios) favour {experimental}"
    if better == "higher":
        return f"{base}; more events are better, so values above 0 (difference) or 1 (ratios) favour {experimental}"
    return base + "; the protocol does not say which direction is better"


def compare_binary(y: npt.ArrayLike, arm: npt.ArrayLike, *, experimental: str, control: str, outcome: str = "outcome",
                   strata: npt.ArrayLike | None = None, strata_names: tuple[str, ...] = (),
                   covariates: npt.ArrayLike | None = None, covariate_names: tuple[str, ...] = (),
                   interval: Interval = "newcombe", conf_level: float = 0.95, better: str | None = None,
                   n_missing: int = 0) -> BinaryResult:
    """Compare a 0/1 outcome between two arms. ``interval`` picks the headline interval for each measure:

    - ``wald``: Wald for all three;
    - ``newcombe``: Newcombe–Wilson for RD, log-Wald for RR and OR, Pearson chi-square p for all three;
    - ``exact``: Fisher's exact interval and p for the OR, Newcombe for RD, log-Wald RR; Fisher's p for all.

    With ``strata`` the headline estimates are the Mantel–Haenszel ones (crude ones stay in ``all_intervals``);
    with ``covariates`` a logistic regression on arm + covariates is added.
    """
    yv = np.asarray(y, dtype=float)
    av = np.asarray(arm).astype(str)
    is_e, is_c = av == experimental, av == control
    x1, n1 = int(yv[is_e].sum()), int(is_e.sum())
    x0, n0 = int(yv[is_c].sum()), int(is_c.sum())
    allv = two_by_two(x1, n1, x0, n0, conf_level)
    rd = allv["risk_difference.wald" if interval == "wald" else "risk_difference.newcombe"]
    rr = allv.get("risk_ratio.wald", Estimate(math.nan, math.nan, math.nan, math.nan, "undefined (no events)"))
    orr = allv["odds_ratio.exact" if interval == "exact" else "odds_ratio.wald"]
    notes: list[str] = []
    if interval == "newcombe":
        p = allv["risk_difference.newcombe"].p_value
        rr, orr = _with_p(rr, p, "Pearson chi-square p"), _with_p(orr, p, "Pearson chi-square p")
    elif interval == "exact":
        p = allv["odds_ratio.exact"].p_value
        rd, rr = _with_p(rd, p, "Fisher exact p"), _with_p(rr, p, "Fisher exact p")
        notes.append("exact intervals are given for the odds ratio (Fisher) and each arm's proportion "
                     "(Clopper–Pearson); RD uses Newcombe and RR log-Wald")
    mh = None
    if strata is not None:
        sv = np.asarray(strata).astype(str)
        keys = sorted(set(sv[is_e | is_c].tolist()))
        xs1 = [yv[is_e & (sv == k)].sum() for k in keys]
        ns1 = [(is_e & (sv == k)).sum() for k in keys]
        xs0 = [yv[is_c & (sv == k)].sum() for k in keys]
        ns0 = [(is_c & (sv == k)).sum() for k in keys]
        mh = mantel_haenszel(xs1, ns1, xs0, ns0, conf_level)
        rd, rr, orr = mh.risk_difference, mh.risk_ratio, mh.odds_ratio
        rd, rr, orr = (_with_p(m, mh.cmh_p, "CMH p") for m in (rd, rr, orr))
    logit = None
    if covariates is not None and len(covariate_names):
        sel = is_e | is_c
        cov = np.asarray(covariates, float).reshape(len(av), -1)[sel]
        X = np.column_stack([np.ones(sel.sum()), is_e[sel].astype(float), cov])
        logit = logistic_regression(yv[sel], X, ["(Intercept)", f"arm{experimental}", *covariate_names],
                                    conf_level)
    return BinaryResult(outcome, experimental, control,
                        (arm_count(experimental, x1, n1, conf_level), arm_count(control, x0, n0, conf_level)),
                        rd, rr, orr, interval, allv, binary_direction(better, experimental, control), mh, strata_names,
                        logit, n_missing, tuple(notes))


def _with_p(est: Estimate, p: float, label: str) -> Estimate:
    return Estimate(est.estimate, est.ci_low, est.ci_high, p, f"{est.method}; {label}", est.se)
