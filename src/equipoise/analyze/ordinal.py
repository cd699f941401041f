"""Ordinal outcomes: the proportional-odds model with covariates, its common odds ratio, a likelihood-ratio test
of the proportional-odds assumption, and the Wilcoxon–Mann–Whitney test."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from equipoise.analyze.cumulative_logit import CumulativeLogitFit, fit_cumulative_logit
from equipoise.analyze.results import Estimate, clean, fmt, fmt_p, wald
from equipoise.figures.ordinal_distribution import who_stacked_bars

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class ProportionalOddsTest:
    """Likelihood-ratio test of proportional odds for the treatment: the PO model against the partial PO model
    in which the treatment effect differs at each threshold (R: anova(clm(y ~ arm + x), clm(y ~ x,
    nominal = ~ arm)); Peterson & Harrell 1990). A small p-value says the common odds ratio hides
    threshold-specific effects."""

    chisq: float
    df: int
    p_value: float
    threshold_log_odds_ratios: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"method": "likelihood ratio vs partial proportional odds (treatment nominal)",
                "chisq": clean(self.chisq), "df": self.df, "p_value": clean(self.p_value),
                "threshold_log_odds_ratios": {k: clean(v) for k, v in self.threshold_log_odds_ratios.items()}}


@dataclass(frozen=True)
class WilcoxonResult:
    """Wilcoxon–Mann–Whitney test with the normal approximation, tie and continuity corrections (R
    wilcox.test(exact = FALSE, correct = TRUE)), and the probabilistic index P(Y_e < Y_c) + P(Y_e = Y_c) / 2."""

    statistic: float  # W = U of the experimental arm, as R reports it
    p_value: float
    probability_lower_in_experimental: float

    def to_dict(self) -> dict[str, Any]:
        return {"statistic": clean(self.statistic), "p_value": clean(self.p_value),
                "probability_lower_in_experimental": clean(self.probability_lower_in_experimental)}


def wilcoxon_mann_whitney(y_e: npt.ArrayLike, y_c: npt.ArrayLike) -> WilcoxonResult:
    a = np.asarray(y_e, float)
    b = np.asarray(y_c, float)
    res = stats.mannwhitneyu(a, b, alternative="two-sided", use_continuity=True, method="asymptotic")
    u = float(res.statistic)  # count of (e > c) + ties / 2
    pi_lower = 1.0 - u / (len(a) * len(b))
    return WilcoxonResult(u, float(res.pvalue), pi_lower)


@dataclass(frozen=True)
class OrdinalResult:
    """Proportional-odds comparison of an ordinal outcome, experimental vs control."""

    outcome: str
    experimental: str
    control: str
    levels: tuple[str, ...]
    counts: dict[str, list[int]]  # arm -> count per level
    log_odds_ratio: float
    se: float
    odds_ratio: Estimate
    thresholds: dict[str, float]
    direction: str
    orientation: str  # "higher" (odds of a higher level) or "lower"
    covariates: tuple[str, ...]
    covariate_effects: dict[str, tuple[float, float]]
    log_likelihood: float
    po_test: ProportionalOddsTest | None
    wilcoxon: WilcoxonResult
    n: int
    n_missing: int = 0
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "analysis": "ordinal", "method": "proportional odds (cumulative logit), maximum likelihood",
            "outcome": self.outcome, "experimental": self.experimental, "control": self.control,
            "log_odds_ratio": clean(self.log_odds_ratio), "se": clean(self.se),
            "odds_ratio": clean(self.odds_ratio.estimate), "ci_low": clean(self.odds_ratio.ci_low),
            "ci_high": clean(self.odds_ratio.ci_high), "p_value": clean(self.odds_ratio.p_value),
            "thresholds": {k: clean(v) for k, v in self.thresholds.items()}, "direction": self.direction,
            "odds_ratio_for": f"a {self.orientation} level",
            "levels": list(self.levels), "counts": self.counts, "n": self.n, "n_missing": self.n_missing,
            "covariates": list(self.covariates),
            "covariate_effects": {k: {"estimate": clean(v[0]), "se": clean(v[1])}
                                  for k, v in self.covariate_effects.items()},
            "log_likelihood": clean(self.log_likelihood),
            "proportional_odds_test": self.po_test.to_dict() if self.po_test else None,
            "wilcoxon": self.wilcoxon.to_dict(), "notes": list(self.notes),
        }

    def plot(self) -> Figure:
        """Stacked bars of the outcome's distribution in each arm."""
        return who_stacked_bars({self.outcome: self.counts}, [int(float(v)) for v in self.levels],
                                title=f"{self.outcome}: distribution by arm")

    def __str__(self) -> str:
        lines = [f"Ordinal outcome {self.outcome}: {self.experimental} vs {self.control} "
                 f"(proportional odds{', adjusted for ' + ', '.join(self.covariates) if self.covariates else ''})",
                 f"  n = {self.n}" + (f" ({self.n_missing} missing excluded)" if self.n_missing else ""),
                 f"  common odds ratio {self.odds_ratio}",
                 f"  log odds ratio {fmt(self.log_odds_ratio, 4)} (SE {fmt(self.se, 4)})",
                 f"  direction: {self.direction}"]
        if self.po_test:
            lines.append(f"  proportional-odds LR test: chi-square {fmt(self.po_test.chisq)} on {self.po_test.df} df, "
                         f"p = {fmt_p(self.po_test.p_value)}")
        lines.append(f"  Wilcoxon–Mann–Whitney p = {fmt_p(self.wilcoxon.p_value)}; "
                     f"P({self.experimental} lower) = {fmt(self.wilcoxon.probability_lower_in_experimental)}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def compare_ordinal(y: npt.ArrayLike, arm: npt.ArrayLike, *, experimental: str, control: str,
                    outcome: str = "outcome", covariates: npt.ArrayLike | None = None,
                    covariate_names: tuple[str, ...] = (), better: str | None = None, conf_level: float = 0.95,
                    level_labels: dict[int, str] | None = None, po_test: bool = True,
                    n_missing: int = 0) -> OrdinalResult:
    """Fit logit P(Y <= j) = theta_j - beta * experimental - gamma' covariates (R: ordinal::clm).

    Orientation of the reported odds ratio: when ``better`` is "lower" (e.g. the WHO scale, where 10 is death)
    the odds ratio is for a *lower* (better) level, exp(-beta), so that an odds ratio above 1 favours the
    experimental arm (the convention of REMAP-CAP and ACTT-1). When ``better`` is "higher" or not given, it is
    the odds of a higher level, exp(beta), as clm reports it. ``thresholds`` are always clm's theta_j.
    """
    yv = np.asarray(y, float)
    av = np.asarray(arm).astype(str)
    sel = (av == experimental) | (av == control)
    yv, av = yv[sel], av[sel]
    values = np.unique(yv)
    idx = np.searchsorted(values, yv)
    treat = (av == experimental).astype(float)
    cov = np.zeros((len(yv), 0)) if covariates is None else np.asarray(covariates, float).reshape(len(sel), -1)[sel]
    X = np.column_stack([treat, cov])
    fit = fit_cumulative_logit(idx, X)
    se_all = fit.beta_se
    beta, se = float(fit.beta[0]), float(se_all[0])

    def label(v: float) -> str:
        iv = int(v) if float(v).is_integer() else v
        return str(iv)

    labels = [label(v) for v in values]
    thresholds = {f"{labels[j]}|{labels[j + 1]}": float(fit.thresholds[j, 0]) for j in range(len(values) - 1)}
    orientation = "lower" if better == "lower" else "higher"
    log_or = -beta if orientation == "lower" else beta
    if fit.thresholds.size in fit.separated:  # the arm's own coefficient diverged: no estimate, no interval
        se = math.nan
    odds = wald(log_or, se, conf_level, "proportional odds, Wald interval", log_scale=True)
    if better == "lower":
        direction = (f"odds_ratio is the odds of a lower (better) level in {experimental} vs {control}: "
                     f"above 1 favours {experimental}")
    elif better == "higher":
        direction = (f"odds_ratio is the odds of a higher (better) level in {experimental} vs {control}: "
                     f"above 1 favours {experimental}")
    else:
        direction = (f"odds_ratio is the odds of a higher level in {experimental} vs {control}; the protocol does "
                     "not say which direction is better")
    cov_effects = {name: (float(fit.beta[i + 1]), float(se_all[i + 1])) for i, name in enumerate(covariate_names)}
    test = None
    notes: list[str] = []
    first_beta = fit.thresholds.size
    if first_beta in fit.separated:
        notes.append(f"the arms separate the outcome (every {experimental} patient lies above or below some level "
                     f"that every {control} patient does not reach): the odds ratio has no finite estimate")
    elif fit.separated:
        separated = [name for i, name in enumerate(covariate_names) if first_beta + 1 + i in fit.separated]
        notes.append(f"separation: {', '.join(separated) or 'the thresholds'} perfectly predict(s) the outcome at "
                     "some levels, so their coefficients are infinite; the odds ratio and its interval are the "
                     "limit as they grow (R's clm warns that the Hessian is singular here)")
    if po_test and len(values) > 2:
        try:
            # Started from the proportional-odds fit (the partial model nests it), so the partial fit can only
            # climb from there: from a cold start it may stall in sparse data below the nested model's maximum,
            # which gave a statistic of 0 (p = 1).
            start = CumulativeLogitFit(np.column_stack([fit.thresholds[:, 0], np.full(len(values) - 1, -beta)]),
                                       fit.beta[1:].copy(), fit.covariance, fit.log_likelihood, 0, False)
            partial = fit_cumulative_logit(idx, cov if cov.shape[1] else None, np.column_stack([np.ones(len(yv)),
                                                                                                  treat]), start=start)
            chisq = max(0.0, 2 * (partial.log_likelihood - fit.log_likelihood))
            df = len(values) - 2
            cuts = (partial.thresholds[:, 0], partial.thresholds[:, 0] + partial.thresholds[:, 1])
            if any(np.any(np.diff(c) <= 0) for c in cuts):
                # R's clm says "not all thresholds are increasing: fit is invalid" for the same data
                raise ValueError("crossing thresholds")
            test = ProportionalOddsTest(chisq, df, float(stats.chi2.sf(chisq, df)),
                                        {k: float(-partial.thresholds[j, 1] if orientation == "higher"
                                                  else partial.thresholds[j, 1])
                                         for j, k in enumerate(thresholds)})
        except Exception:  # the partial model often has crossing thresholds in sparse data; say so, not fail
            notes.append("the partial proportional-odds model could not be fitted or its thresholds cross (sparse "
                         "levels, as R's clm reports 'fit is invalid'); no test of proportional odds")
    counts = {a: [int(((av == a) & (yv == v)).sum()) for v in values] for a in (experimental, control)}
    if level_labels is not None:
        labels = [level_labels.get(int(v), label(v)) if float(v).is_integer() else label(v) for v in values]
    return OrdinalResult(outcome, experimental, control, tuple(label(v) for v in values), counts, log_or, se, odds,
                         thresholds, direction, orientation, covariate_names, cov_effects, fit.log_likelihood, test,
                         wilcoxon_mann_whitney(yv[treat == 1], yv[treat == 0]), len(yv), n_missing, tuple(notes))


