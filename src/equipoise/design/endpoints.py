"""Fixed-sample formulas per outcome type: sample size (or events), the drift a given size gives, and the
effect at a z boundary.

Group 1 is the experimental arm, group 2 the control; ``ratio`` is n_experimental / n_control (rpact's
``allocationRatioPlanned``). ``za = z_{1-alpha/sided}``, ``zb = z_{1-beta}``. Sizes are totals over both arms
(events for time-to-event).

- Binary (rpact ``getSampleSizeRates``, normal approximation, Fleiss/Farrington–Manning without continuity
  correction): N = (za*sqrt(V0) + zb*sqrt(V1))^2 / effect^2 with N*Var(estimate) = V under H0 (V0) and H1
  (V1). ``variance="pooled"`` uses the pooled rate under H0 (rpact, gsDesign ``nBinomial``, Farrington &
  Manning 1990 with margin 0); ``"unpooled"`` uses the H1 variance in both places (the Wald test).
  Effect measures: risk difference; risk ratio (pooled: the Farrington–Manning score test of RR = 1, which is
  the pooled difference test; unpooled: Wald test of log RR); odds ratio (log OR, pooled as gsDesign
  ``nBinomial(scale = "OR")``, or Wald).
- Continuous (rpact ``getSampleSizeMeans``): known SD, N = (1+r)^2/r * (za+zb)^2 * sd^2/delta^2; estimated SD
  (default, rpact's ``normalApproximation = FALSE``): the n solving the noncentral-t power equation
  P(T_{N-2, ncp} > t_{N-2, 1-alpha/sided}) = 1 - beta.
- Time-to-event events (rpact ``getSampleSizeSurvival``): Schoenfeld (1981) D = (1+r)^2/r * (za+zb)^2 /
  log(HR)^2; Freedman (1982) D = (za+zb)^2 (1 + r HR)^2 / (r (1-HR)^2); Hsieh–Freedman
  D = (za+zb)^2 (1+HR)^2/(1-HR)^2 * (1+r)^2/(4r).
- Non-inferiority (rpact's ``thetaH0``, one-sided): the effect is measured from theta0 instead of 0. Binary risk
  difference: effect p1 - p2 - theta0 with the H0 variance at the rates restricted to p1 - p2 = theta0 by maximum
  likelihood (Farrington & Manning 1990, Stat Med 9:1447-54); continuous: delta - theta0 in the t or z formula;
  time-to-event: Schoenfeld with log(HR) - log(theta0) (Chow, Shao & Wang, Sample Size Calculations in Clinical
  Research, 2nd ed. 2008, sections 4.2, 3.2 and 7.2).
- Ordinal (Whitehead 1993, Stat Med 12:2257–2271, proportional odds):
  N = 3 (1+r)^2/r * (za+zb)^2 / (log(OR)^2 * (1 - sum pbar_i^3)), pbar the category distribution pooled
  over the arms in proportion to the allocation (the H0 marginal; the plain average under 1:1).

References
----------
Schoenfeld D (1981). The asymptotic properties of nonparametric tests for comparing survival distributions.
Biometrika 68:316-319. Freedman LS (1982). Tables of the number of patients required in clinical trials using
the logrank test. Stat Med 1:121-129. Hsieh FY (1992). Comparing sample size formulae for trials with
unbalanced allocation using the logrank test. Stat Med 11:1091-1098.
Farrington CP, Manning G (1990). Test statistics and sample size formulae for comparative binomial trials with
null hypothesis of non-zero risk difference or non-unity relative risk. Stat Med 9:1447-1454.
Fleiss JL, Levin B, Paik MC (2003). Statistical Methods for Rates and Proportions, 3rd ed. Wiley, ch. 4.
Whitehead J (1993). Sample size calculations for ordered categorical data. Stat Med 12:2257-2271.
Chow SC, Shao J, Wang H (2008). Sample Size Calculations in Clinical Research, 2nd ed. Chapman & Hall/CRC.
Wassmer G, Brannath W (2016). Group Sequential and Confirmatory Adaptive Designs in Clinical Trials. Springer
(rpact's ``getSampleSizeRates``, ``getSampleSizeMeans``, ``getSampleSizeSurvival``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from scipy.optimize import brentq
from scipy.special import ndtri

from equipoise.errors import UserError

FloatArray = NDArray[np.float64]


def z_upper(p: float) -> float:
    """z_{1-p}."""
    return float(-ndtri(p))


class EffectMeasure(StrEnum):
    DIFFERENCE = "difference"
    RISK_RATIO = "risk-ratio"
    ODDS_RATIO = "odds-ratio"


class Variance(StrEnum):
    POOLED = "pooled"
    UNPOOLED = "unpooled"


class SurvivalMethod(StrEnum):
    SCHOENFELD = "schoenfeld"
    FREEDMAN = "freedman"
    HSIEH_FREEDMAN = "hsieh-freedman"


def _choice(enum: type[StrEnum], value: str | StrEnum, option: str) -> Any:
    """Case-insensitive; punctuation ignored (rpact's ``HsiehFreedman`` is ``hsieh-freedman``)."""

    def key(text: str) -> str:
        return "".join(ch for ch in text.lower() if ch.isalnum())

    for member in enum:
        if key(member.value) == key(str(value)):
            return member
    choices = ", ".join(m.value for m in enum)
    raise UserError(f"{option}: {value!r} is not one of {choices}")


def _probability(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a number, got {value!r}") from None
    if not 0.0 < v < 1.0:
        raise UserError(f"{name} must be between 0 and 1 (exclusive), got {value}")
    return v


def _positive(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise UserError(f"{name} must be a number > 0, got {value}")
    return v


@dataclass(frozen=True)
class Endpoint:
    """What a sample-size calculation needs from an outcome type."""

    outcome: str
    effect_name: str
    direction_upper: bool  # the assumed effect increases the natural-scale measure
    assumptions: dict[str, Any]
    method: str
    counts_events: bool = False

    def fixed_size(self, alpha: float, sided: int, beta: float, ratio: float) -> float:
        raise NotImplementedError

    def drift(self, size: float, ratio: float, alpha: float, sided: int) -> float:
        """The drift (expected Z at full information, in the direction of the effect) at total size ``size``."""
        raise NotImplementedError

    def effect_at(self, z: float, size: float, ratio: float) -> float:
        """The natural-scale estimate at which the test statistic equals ``z`` (signed: positive z favours
        the direction of the assumed effect) with total size ``size``."""
        raise NotImplementedError


@dataclass(frozen=True)
class Binary(Endpoint):
    p_control: float = 0.0
    p_treatment: float = 0.0
    measure: EffectMeasure = EffectMeasure.DIFFERENCE
    variance: Variance = Variance.POOLED
    theta_h0: float = 0.0  # the risk difference under H0: a non-inferiority margin when not 0 (rpact thetaH0)

    def _pbar(self, ratio: float, p1: float | None = None) -> float:
        p1 = self.p_treatment if p1 is None else p1
        return (ratio * p1 + self.p_control) / (1.0 + ratio)

    def _effect_and_variances(self, ratio: float, p1: float | None = None) -> tuple[float, float, float]:
        """(effect on the test's scale, N*Var under H0, N*Var under H1) for total N."""
        p1 = self.p_treatment if p1 is None else p1
        p2 = self.p_control
        r = ratio
        pbar = self._pbar(r, p1)
        if self.measure is EffectMeasure.ODDS_RATIO:
            effect = math.log(p1 / (1 - p1) * (1 - p2) / p2)
            v1 = (1 + r) * (1 / (r * p1 * (1 - p1)) + 1 / (p2 * (1 - p2)))
            v0 = (1 + r) ** 2 / (r * pbar * (1 - pbar))
        elif self.measure is EffectMeasure.RISK_RATIO and self.variance is Variance.UNPOOLED:
            effect = math.log(p1 / p2)
            v1 = (1 + r) * ((1 - p1) / (r * p1) + (1 - p2) / p2)
            v0 = v1
        else:  # difference, and the risk-ratio score test of RR = 1 (identical to the pooled difference test)
            effect = p1 - p2 - self.theta_h0
            v1 = (1 + r) * (p1 * (1 - p1) / r + p2 * (1 - p2))
            if self.theta_h0 == 0:
                v0 = pbar * (1 - pbar) * (1 + r) ** 2 / r
            else:  # the rates restricted to p1 - p2 = theta_h0 by maximum likelihood (Farrington-Manning)
                m1, m2 = farrington_manning_difference(p1, p2, self.theta_h0, r)
                v0 = (1 + r) * (m1 * (1 - m1) / r + m2 * (1 - m2))
        if self.variance is Variance.UNPOOLED:
            v0 = v1
        return effect, v0, v1

    def fixed_size(self, alpha: float, sided: int, beta: float, ratio: float) -> float:
        effect, v0, v1 = self._effect_and_variances(ratio)
        return (z_upper(alpha / sided) * math.sqrt(v0) + z_upper(beta) * math.sqrt(v1)) ** 2 / effect**2

    def drift(self, size: float, ratio: float, alpha: float, sided: int) -> float:
        """rpact's ``getPowerRates`` convention: with the H0 (pooled) variance differing from the H1 one, the
        drift is shifted so that a single-look test has exactly the normal-approximation power,
        |effect| sqrt(N/V1) + z_{1-alpha/sided} (1 - sqrt(V0/V1)); group-sequential designs then use the
        ordinary bounds with this drift (an approximation, as in rpact)."""
        effect, v0, v1 = self._effect_and_variances(ratio)
        return abs(effect) * math.sqrt(size / v1) + z_upper(alpha / sided) * (1 - math.sqrt(v0 / v1))

    def effect_at(self, z: float, size: float, ratio: float) -> float:
        """rpact's convention: the experimental rate at which the statistic equals the bound, with the
        control rate fixed at its assumed value; reported on the effect measure's scale."""
        sign = 1.0 if self.direction_upper else -1.0
        p2 = self.p_control

        def statistic(p1: float) -> float:
            effect, v0, _ = self._effect_and_variances(ratio, p1)
            return effect / math.sqrt(v0 / size) - sign * z

        lo, hi = 1e-9, 1 - 1e-9
        try:
            if (statistic(lo) > 0) == (statistic(hi) > 0):
                return float("nan")
            p1 = float(brentq(statistic, lo, hi, xtol=1e-14))
        except (ValueError, ZeroDivisionError):
            return float("nan")
        if self.measure is EffectMeasure.RISK_RATIO:
            return p1 / p2
        if self.measure is EffectMeasure.ODDS_RATIO:
            return p1 / (1 - p1) * (1 - p2) / p2
        return p1 - p2


@dataclass(frozen=True)
class Continuous(Endpoint):
    delta: float = 0.0
    sd: float = 1.0
    sd_known: bool = False
    theta_h0: float = 0.0  # the mean difference under H0: a non-inferiority margin when not 0 (rpact thetaH0)

    @property
    def shift(self) -> float:
        """The assumed difference's distance from H0 (rpact: alternative - thetaH0)."""
        return self.delta - self.theta_h0

    def fixed_size(self, alpha: float, sided: int, beta: float, ratio: float) -> float:
        r = ratio
        za, zb = z_upper(alpha / sided), z_upper(beta)
        normal = (1 + r) ** 2 / r * (za + zb) ** 2 * (self.sd / self.shift) ** 2
        if self.sd_known:
            return normal
        scale = math.sqrt(r / (1 + r)) * abs(self.shift) / self.sd

        def shortfall(n2: float) -> float:
            df = max(0.001, n2 * (1 + r) - 2)
            crit = stats.t.ppf(1 - alpha / sided, df)
            return float(stats.nct.cdf(crit, df, math.sqrt(n2) * scale)) - beta

        n2_normal = normal / (1 + r)
        hi = n2_normal + 10.0
        while shortfall(hi) > 0:
            hi *= 2
        lo = max(2.0 / (1 + r) + 1e-6, 0.001)
        if shortfall(lo) < 0:
            return lo * (1 + r)
        return float(brentq(shortfall, lo, hi, xtol=1e-10)) * (1 + r)

    def drift(self, size: float, ratio: float, alpha: float, sided: int) -> float:
        r = ratio
        return abs(self.shift) / self.sd * math.sqrt(r * size) / (1 + r)

    def effect_at(self, z: float, size: float, ratio: float) -> float:
        r = ratio
        sign = 1.0 if self.direction_upper else -1.0
        if self.sd_known:
            crit = z
        else:
            # rpact: the t quantile with the same one-sided level as the z bound, df = n - 2
            df = size - 2
            crit = float(stats.t.ppf(stats.norm.cdf(z), df)) if df > 0 else float("nan")
        return self.theta_h0 + sign * crit * self.sd * (1 + r) / math.sqrt(r * size)


@dataclass(frozen=True)
class Survival(Endpoint):
    hazard_ratio: float = 1.0
    survival_method: SurvivalMethod = SurvivalMethod.SCHOENFELD
    theta_h0: float = 1.0  # the hazard ratio under H0: a non-inferiority margin when not 1 (rpact thetaH0)

    def _unit(self, ratio: float) -> float:
        """sqrt(D) * this = drift: the standardised effect per sqrt(event)."""
        r, hr = ratio, self.hazard_ratio
        if self.survival_method is SurvivalMethod.SCHOENFELD:
            return abs(math.log(hr) - math.log(self.theta_h0)) * math.sqrt(r) / (1 + r)
        if self.survival_method is SurvivalMethod.FREEDMAN:
            return math.sqrt(r) * abs(1 - hr) / (1 + r * hr)
        return 2 * math.sqrt(r) / (1 + r) * abs(1 - hr) / (1 + hr)

    def fixed_size(self, alpha: float, sided: int, beta: float, ratio: float) -> float:
        return ((z_upper(alpha / sided) + z_upper(beta)) / self._unit(ratio)) ** 2

    def drift(self, size: float, ratio: float, alpha: float, sided: int) -> float:
        return self._unit(ratio) * math.sqrt(size)

    def effect_at(self, z: float, size: float, ratio: float) -> float:
        """Hazard ratio at the bound, rpact's formula exp(±z (1+r)/sqrt(r D)) for every method."""
        r = ratio
        sign = 1.0 if self.direction_upper else -1.0
        return math.exp(math.log(self.theta_h0) + sign * z * (1 + r) / math.sqrt(r * size))


@dataclass(frozen=True)
class Ordinal(Endpoint):
    p_control: tuple[float, ...] = ()
    odds_ratio: float = 1.0
    p_treatment: tuple[float, ...] = field(default=())

    def _pbar(self, ratio: float) -> FloatArray:
        pc = np.asarray(self.p_control)
        pt = np.asarray(self.p_treatment)
        return np.asarray((ratio * pt + pc) / (1 + ratio))

    def _information_per_subject(self, ratio: float) -> float:
        """Whitehead's V / N: r/(1+r)^2 * (1 - sum pbar^3) / 3."""
        pbar = self._pbar(ratio)
        return ratio / (1 + ratio) ** 2 * (1 - float(np.sum(pbar**3))) / 3.0

    def fixed_size(self, alpha: float, sided: int, beta: float, ratio: float) -> float:
        za, zb = z_upper(alpha / sided), z_upper(beta)
        return (za + zb) ** 2 / (math.log(self.odds_ratio) ** 2 * self._information_per_subject(ratio))

    def drift(self, size: float, ratio: float, alpha: float, sided: int) -> float:
        return abs(math.log(self.odds_ratio)) * math.sqrt(size * self._information_per_subject(ratio))

    def effect_at(self, z: float, size: float, ratio: float) -> float:
        sign = 1.0 if self.direction_upper else -1.0
        return math.exp(sign * z / math.sqrt(size * self._information_per_subject(ratio)))


def proportional_odds_shift(p_control: FloatArray, odds_ratio: float) -> FloatArray:
    """Experimental-arm distribution under proportional odds: categories ordered best to worst, the odds of
    being in category j or better multiplied by ``odds_ratio`` (> 1 favours the experimental arm)."""
    cum = np.cumsum(p_control)[:-1]
    odds = odds_ratio * cum / (1 - cum)
    cum_t = odds / (1 + odds)
    return np.diff(np.concatenate(([0.0], cum_t, [1.0])))


def farrington_manning_difference(p1: float, p2: float, theta: float, ratio: float) -> tuple[float, float]:
    """The maximum-likelihood rates (m1, m2) under the restriction m1 - m2 = theta, at the rates p1, p2 with
    n1 / n2 = ``ratio``: the closed-form root of the likelihood's cubic (Farrington & Manning 1990, Stat Med
    9:1447-54, appendix; Miettinen & Nurminen 1985), as rpact's ``.getFarringtonManningValuesDiff``."""
    if theta == 0:
        pooled = (ratio * p1 + p2) / (1 + ratio)
        return pooled, pooled
    a = 1 + 1 / ratio
    b = -(1 + 1 / ratio + p1 + p2 / ratio + theta * (1 / ratio + 2))
    c = theta**2 + theta * (2 * p1 + 1 / ratio + 1) + p1 + p2 / ratio
    d = -theta * (1 + theta) * p1
    v = b**3 / (3 * a) ** 3 - b * c / (6 * a**2) + d / (2 * a)
    root = math.sqrt(max(b**2 / (3 * a) ** 2 - c / (3 * a), 0.0))
    if v == 0:
        u, w = root, math.pi / 2
    else:
        u = math.copysign(root, v)
        w = (math.pi + math.acos(max(-1.0, min(1.0, v / u**3)))) / 3
    m1 = min(max(0.0, 2 * u * math.cos(w) - b / (3 * a)), 1.0)
    return m1, min(max(0.0, m1 - theta), 1.0)


def binary_endpoint(p_control: Any, p_treatment: Any = None, *, risk_ratio: Any = None, odds_ratio: Any = None,
                    effect_measure: str = "difference", variance: str = "pooled", theta_h0: Any = 0.0) -> Binary:
    """``theta_h0`` (not 0) is the risk difference under H0 of a non-inferiority test, rpact's ``thetaH0``:
    +margin when fewer events are better, -margin when more are."""
    pc = _probability("p_control", p_control)
    given = [x is not None for x in (p_treatment, risk_ratio, odds_ratio)]
    if sum(given) != 1:
        raise UserError("give exactly one of p_treatment, risk_ratio and odds_ratio for a binary outcome")
    if p_treatment is not None:
        pt = _probability("p_treatment", p_treatment)
    elif risk_ratio is not None:
        pt = pc * _positive("risk_ratio", risk_ratio)
        if not 0 < pt < 1:
            raise UserError(f"risk_ratio {risk_ratio} with p_control {pc} gives a treatment rate {pt:g} outside (0,1)")
    else:
        o = _positive("odds_ratio", odds_ratio) * pc / (1 - pc)
        pt = o / (1 + o)
    theta0 = _number("theta_h0 (the non-inferiority margin)", theta_h0)
    if abs(pt - pc - theta0) < 1e-12:
        raise UserError("p_treatment equals p_control: there is no effect to detect" if theta0 == 0 else
                        f"p_treatment - p_control equals the margin {theta0:g}: nothing to show")
    measure = _choice(EffectMeasure, effect_measure, "effect measure")
    var = _choice(Variance, variance, "variance")
    if theta0 != 0 and measure is not EffectMeasure.DIFFERENCE:
        raise UserError("a non-inferiority margin for a binary outcome is a risk difference: use the effect "
                        "measure difference")
    if not -1 < theta0 < 1:
        raise UserError(f"a risk-difference margin must be between -1 and 1, got {theta0:g}")
    names = {EffectMeasure.DIFFERENCE: "risk difference (experimental - control)",
             EffectMeasure.RISK_RATIO: "risk ratio (experimental / control)",
             EffectMeasure.ODDS_RATIO: "odds ratio (experimental / control)"}
    test = {
        (EffectMeasure.DIFFERENCE, Variance.POOLED): "difference of proportions, pooled variance under H0 "
        "(Farrington-Manning, margin 0; rpact getSampleSizeRates)",
        (EffectMeasure.DIFFERENCE, Variance.UNPOOLED): "difference of proportions, unpooled (Wald) variance",
        (EffectMeasure.RISK_RATIO, Variance.POOLED): "risk ratio, Farrington-Manning score test of RR = 1 "
        "(rpact riskRatio = TRUE)",
        (EffectMeasure.RISK_RATIO, Variance.UNPOOLED): "log risk ratio, Wald variance",
        (EffectMeasure.ODDS_RATIO, Variance.POOLED): "log odds ratio, pooled variance under H0 "
        "(gsDesign nBinomial scale OR)",
        (EffectMeasure.ODDS_RATIO, Variance.UNPOOLED): "log odds ratio, Wald variance",
    }[(measure, var)]
    assumptions: dict[str, Any] = {"p_control": pc, "p_treatment": pt, "effect_measure": measure.value,
                                   "variance": var.value}
    if theta0 != 0:
        test = ("difference of proportions, non-inferiority: H0 risk difference "
                + (f">= {theta0:g}" if pt - pc < theta0 else f"<= {theta0:g}")
                + (", Farrington-Manning variance under H0 (rpact getSampleSizeRates thetaH0)"
                   if var is Variance.POOLED else ", unpooled (Wald) variance"))
        assumptions["theta_h0"] = theta0
    return Binary(
        outcome="binary", effect_name=names[measure], direction_upper=pt - pc > theta0, assumptions=assumptions,
        method=f"normal approximation, {test}", p_control=pc, p_treatment=pt, measure=measure, variance=var,
        theta_h0=theta0,
    )


def _number(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise UserError(f"{name} must be a finite number, got {value}")
    return v


def continuous_endpoint(delta: Any, sd: Any = 1.0, *, sd_known: bool = False, theta_h0: Any = 0.0) -> Continuous:
    """``theta_h0`` (not 0) is the mean difference under H0 of a non-inferiority test, rpact's ``thetaH0``."""
    try:
        d = float(delta)
    except (TypeError, ValueError):
        raise UserError(f"delta must be a number, got {delta!r}") from None
    theta0 = _number("theta_h0 (the non-inferiority margin)", theta_h0)
    if not math.isfinite(d) or (d == 0 and theta0 == 0):
        raise UserError(f"delta must be a non-zero number (the difference in means to detect), got {delta}")
    if d == theta0:
        raise UserError(f"delta equals the margin {theta0:g}: nothing to show")
    s = _positive("sd", sd)
    method = ("normal approximation (known SD)" if sd_known else
              "t test (estimated SD): noncentral t power equation, as rpact normalApproximation = FALSE")
    assumptions: dict[str, Any] = {"delta": d, "sd": s, "sd_known": sd_known}
    if theta0 != 0:
        method += (", non-inferiority: H0 mean difference " + (f"<= {theta0:g}" if d > theta0 else f">= {theta0:g}")
                   + " (rpact getSampleSizeMeans thetaH0)")
        assumptions["theta_h0"] = theta0
    return Continuous(outcome="continuous", effect_name="mean difference (experimental - control)",
                      direction_upper=d > theta0, assumptions=assumptions, method=method, delta=d, sd=s,
                      sd_known=sd_known, theta_h0=theta0)


def survival_endpoint(hazard_ratio: Any, method: str = "schoenfeld", theta_h0: Any = 1.0) -> Survival:
    """``theta_h0`` (not 1) is the hazard ratio under H0 of a non-inferiority test, rpact's ``thetaH0``
    (Schoenfeld's formula with log(HR) - log(thetaH0))."""
    hr = _positive("hazard_ratio", hazard_ratio)
    theta0 = _positive("theta_h0 (the non-inferiority margin)", theta_h0)
    if abs(hr - theta0) < 1e-12:
        raise UserError("hazard_ratio is 1: there is no effect to detect" if theta0 == 1 else
                        f"hazard_ratio equals the margin {theta0:g}: nothing to show")
    m = _choice(SurvivalMethod, method, "survival method")
    if theta0 != 1 and m is not SurvivalMethod.SCHOENFELD:
        raise UserError("a non-inferiority margin for a time-to-event outcome uses Schoenfeld's formula "
                        "(as rpact): leave --method out")
    label = {SurvivalMethod.SCHOENFELD: "Schoenfeld (1981)", SurvivalMethod.FREEDMAN: "Freedman (1982)",
             SurvivalMethod.HSIEH_FREEDMAN: "Hsieh-Freedman"}[m]
    assumptions: dict[str, Any] = {"hazard_ratio": hr, "events_method": m.value}
    text = f"log-rank, events by {label}"
    if theta0 != 1:
        text += (", non-inferiority: H0 hazard ratio " + (f">= {theta0:g}" if hr < theta0 else f"<= {theta0:g}")
                 + " (rpact getSampleSizeSurvival thetaH0)")
        assumptions["theta_h0"] = theta0
    return Survival(outcome="time-to-event", effect_name="hazard ratio (experimental / control)",
                    direction_upper=hr > theta0, assumptions=assumptions, method=text, counts_events=True,
                    hazard_ratio=hr, survival_method=m, theta_h0=theta0)


def ordinal_endpoint(p_control: Any, odds_ratio: Any) -> Ordinal:
    try:
        pc = np.asarray([float(x) for x in p_control], dtype=float)
    except (TypeError, ValueError):
        raise UserError(f"p_control must be a list of category probabilities, got {p_control!r}") from None
    if pc.size < 2:
        raise UserError("an ordinal outcome needs at least 2 categories in p_control")
    if np.any(pc < 0) or np.any(pc >= 1) or not np.all(np.isfinite(pc)):
        raise UserError("ordinal category probabilities must be in [0, 1)")
    if abs(pc.sum() - 1) > 1e-6:
        raise UserError(f"ordinal category probabilities must sum to 1, they sum to {pc.sum():g}")
    pc = pc / pc.sum()
    o = _positive("odds_ratio", odds_ratio)
    if abs(o - 1) < 1e-12:
        raise UserError("odds_ratio is 1: there is no effect to detect")
    pt = proportional_odds_shift(pc, o)
    return Ordinal(
        outcome="ordinal", effect_name="common odds ratio of a better category (experimental / control)",
        direction_upper=o > 1,
        assumptions={"p_control": [float(x) for x in pc], "odds_ratio": o,
                     "p_treatment": [float(x) for x in pt], "order": "categories listed best to worst"},
        method="proportional odds, Whitehead (1993) formula", p_control=tuple(float(x) for x in pc),
        odds_ratio=o, p_treatment=tuple(float(x) for x in pt),
    )
