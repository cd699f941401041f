"""Posterior probabilities of benefit and of a clinically important effect, as REMAP-CAP reports them.

Two methods, both stated in the result:

- ``normal_posterior``: a normal prior on the log effect (log OR, log HR, log RR) combined with the normal
  approximation to the likelihood at the maximum-likelihood estimate (estimate, SE), which gives a normal
  posterior in closed form (Spiegelhalter, Abrams & Myles 2004, §3.6). For the proportional-odds model this is
  the Laplace approximation of the marginal posterior with flat priors on the thresholds and covariates.
- ``proportional_odds_posterior``: the same prior with the full proportional-odds likelihood, the nuisance
  parameters integrated out by the Laplace approximation, on a grid (no normal approximation for the effect).
- ``beta_binomial_posterior``: independent Beta priors on each arm's event risk; posterior probabilities that
  the risk difference or risk ratio passes a threshold, by one-dimensional numerical integration (exact up to
  quadrature error).

References
----------
Spiegelhalter DJ, Abrams KR, Myles JP (2004). Bayesian Approaches to Clinical Trials and Health-Care
Evaluation. Wiley, section 3.6 (normal prior, normal likelihood).
Tierney L, Kadane JB (1986). Accurate approximations for posterior moments and marginal densities. JASA
81:82-86 (the Laplace approximation).
Angus DC et al. (2020). The REMAP-CAP (Randomized Embedded Multifactorial Adaptive Platform for
Community-acquired Pneumonia) study. Rationale and design. Ann Am Thorac Soc 17:879-891.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import integrate, optimize, stats

from equipoise.analyze.cumulative_logit import CumulativeLogitFit, fit_cumulative_logit
from equipoise.analyze.results import clean, fmt
from equipoise.errors import UserError


@dataclass(frozen=True)
class Posterior:
    measure: str  # e.g. "odds_ratio"
    method: str
    prior: str
    posterior_median: float
    credible_low: float
    credible_high: float
    probability_of_benefit: float
    important_threshold: float | None
    probability_important: float | None
    benefit: str  # human text: which side is benefit

    def to_dict(self) -> dict[str, Any]:
        return {"measure": self.measure, "method": self.method, "prior": self.prior,
                "posterior_median": clean(self.posterior_median), "credible_low": clean(self.credible_low),
                "credible_high": clean(self.credible_high),
                "probability_of_benefit": clean(self.probability_of_benefit),
                "important_threshold": self.important_threshold,
                "probability_important": clean(self.probability_important), "benefit": self.benefit}

    def __str__(self) -> str:
        out = (f"Posterior {self.measure}: median {fmt(self.posterior_median)} "
               f"(95% credible interval {fmt(self.credible_low)} to {fmt(self.credible_high)}); "
               f"P(benefit) = {fmt(self.probability_of_benefit, 4)}")
        if self.important_threshold is not None:
            out += f"; P(beyond {self.important_threshold:g}) = {fmt(self.probability_important, 4)}"
        return out + f"  [{self.method}; prior {self.prior}; benefit: {self.benefit}]"


def normal_posterior(log_estimate: float, se: float, *, measure: str, benefit: Literal["above", "below"],
                     prior_mean: float = 0.0, prior_sd: float = 10.0, important: float | None = None,
                     cred_level: float = 0.95) -> Posterior:
    """Posterior of a ratio measure with a N(prior_mean, prior_sd^2) prior on its log; ``benefit`` says whether
    ratios above or below 1 are benefit; ``important`` is a ratio threshold (e.g. 1.2 for OR, 0.8 for HR).

    References
    ----------
    Spiegelhalter DJ, Abrams KR, Myles JP (2004). Bayesian Approaches to Clinical Trials and Health-Care Evaluation.
    Wiley, section 3.6.
    """
    prec = 1 / prior_sd**2 + 1 / se**2
    mean = (prior_mean / prior_sd**2 + log_estimate / se**2) / prec
    sd = math.sqrt(1 / prec)
    post = stats.norm(mean, sd)
    q = (1 - cred_level) / 2
    p_benefit = float(post.sf(0.0) if benefit == "above" else post.cdf(0.0))
    p_imp = None
    if important is not None:
        p_imp = float(post.sf(math.log(important)) if benefit == "above" else post.cdf(math.log(important)))
    return Posterior(measure, "normal prior × normal approximation to the likelihood",
                     f"log {measure} ~ N({prior_mean:g}, {prior_sd:g}^2)", math.exp(mean),
                     math.exp(float(post.ppf(q))), math.exp(float(post.ppf(1 - q))), p_benefit, important, p_imp,
                     f"{measure} {'>' if benefit == 'above' else '<'} 1")


def beta_binomial_posterior(x_e: int, n_e: int, x_c: int, n_c: int, *, better: Literal["lower", "higher"],
                            prior_a: float = 1.0, prior_b: float = 1.0, important_rr: float | None = None
                            ) -> Posterior:
    """P(p_e < p_c) (or >, when more events are better) and P(RR beyond ``important_rr``) under independent
    Beta(prior_a, prior_b) priors, integrating the posterior density of p_c against the cdf of p_e.

    References
    ----------
    Spiegelhalter DJ, Abrams KR, Myles JP (2004). Bayesian Approaches to Clinical Trials and Health-Care Evaluation.
    Wiley, ch. 3 (conjugate Beta-binomial analysis).
    """
    pe = stats.beta(prior_a + x_e, prior_b + n_e - x_e)
    pc = stats.beta(prior_a + x_c, prior_b + n_c - x_c)

    def p_ratio_below(r: float) -> float:  # P(p_e < r p_c)
        val, _ = integrate.quad(lambda x: pc.pdf(x) * pe.cdf(min(1.0, r * x)), 0, 1, epsabs=1e-12, epsrel=1e-10,
                                limit=200, points=[pc.mean()])
        return float(val)

    lower_better = better == "lower"
    p_benefit = p_ratio_below(1.0) if lower_better else 1 - p_ratio_below(1.0)
    p_imp = None
    if important_rr is not None:
        p_imp = p_ratio_below(important_rr) if lower_better else 1 - p_ratio_below(important_rr)
    # credible interval of the risk ratio by root-finding on its cdf
    def rr_quantile(prob: float) -> float:
        return float(optimize.brentq(lambda r: p_ratio_below(r) - prob, 1e-6, 1e6, xtol=1e-10))

    return Posterior("risk_ratio", "independent Beta priors, exact posterior by numerical integration",
                     f"Beta({prior_a:g}, {prior_b:g}) on each arm's risk", rr_quantile(0.5), rr_quantile(0.025),
                     rr_quantile(0.975), p_benefit, important_rr, p_imp,
                     f"risk_ratio {'<' if lower_better else '>'} 1")


def proportional_odds_posterior(y_index: npt.ArrayLike, treatment: npt.ArrayLike,
                                covariates: npt.ArrayLike | None = None, *, orientation: Literal["lower", "higher"],
                                prior_mean: float = 0.0, prior_sd: float = 1.0, important: float | None = None,
                                grid_points: int = 241, cred_level: float = 0.95) -> Posterior:
    """Posterior of the proportional-odds odds ratio with a normal prior on its log, the thresholds and
    covariate effects integrated out by the Laplace approximation (Tierney & Kadane 1986):

        log p(b | y) = const + l_p(b) - log det I_nuisance(b) / 2 + log prior(b),

    where l_p is the profile log-likelihood (the model refitted with the treatment effect fixed at b as an
    offset) and I_nuisance the observed information of the other parameters at that fit; then integrated on a
    grid of ``grid_points`` over the MLE ± 7 SE. ``orientation`` "lower" reports the odds ratio for a lower
    level (as :func:`equipoise.analyze.ordinal.compare_ordinal` does with better: lower).

    Raises :class:`UserError` when the model has no finite estimate (separation, common at an early look) or
    cannot be refitted around it: then there is no posterior to report, only the frequentist result.

    References
    ----------
    Tierney L, Kadane JB (1986). JASA 81:82-86. McCullagh P (1980). J R Stat Soc B 42:109-142.
    """
    from scipy.interpolate import CubicSpline

    y = np.asarray(y_index, dtype=np.intp)
    t = np.asarray(treatment, float)
    cov = None if covariates is None else np.asarray(covariates, float).reshape(len(y), -1)
    if cov is not None and cov.shape[1] == 0:
        cov = None
    full = fit_cumulative_logit(y, t[:, None] if cov is None else np.column_stack([t, cov]))
    # Separation (an arm or a covariate level wholly above or below a threshold of the outcome) leaves the
    # likelihood without a finite maximum (Albert & Anderson 1984): Newton stops at a large |beta| (about 40) with
    # an information matrix singular to working precision (numpy's rank test: a singular value below
    # max(M, N) * eps of the largest). There MLE ± 7 SE spans ±10^8 or more, and with a separated covariate the
    # posterior is improper under flat priors on the nuisance parameters; tiny rounding differences then decide
    # which grid refits fail, so the result would be arbitrary.
    if not np.all(np.isfinite(full.covariance)) or np.linalg.matrix_rank(full.covariance) < len(full.covariance):
        raise UserError("the proportional-odds posterior cannot be computed: the model has no finite estimate "
                        "(separation: in these patients an arm or a covariate level lies wholly above or below some "
                        "outcome level)")
    b_hat, se = float(full.beta[0]), float(full.beta_se[0])
    grid = np.linspace(b_hat - 7 * se, b_hat + 7 * se, grid_points)
    log_post = np.empty(grid_points)

    def refit(i: int, start: CumulativeLogitFit | None) -> CumulativeLogitFit:
        fit = fit_cumulative_logit(y, cov, offset=grid[i] * t, start=start)
        if not fit.converged and start is not None:  # where a warm start fails, Newton from the default start
            fit = fit_cumulative_logit(y, cov, offset=grid[i] * t)
        _, logdet_cov = np.linalg.slogdet(fit.covariance)
        oriented = -grid[i] if orientation == "lower" else grid[i]
        log_post[i] = fit.log_likelihood + 0.5 * logdet_cov + stats.norm.logpdf(oriented, prior_mean, prior_sd)
        return fit

    # Outward from the MLE, one side at a time, each refit warm-started from its converged neighbour one grid step
    # nearer the MLE (continuation). Visiting the points in order of distance from the MLE instead alternates
    # sides, so the warm start came from the mirror point up to 6 SE away, from which Newton's method diverged in
    # small trials: most of the failed refits of a sparse early look came from that, not from the model.
    centre = int(np.argmin(np.abs(grid - b_hat)))
    centre_fit = refit(centre, None)
    for direction in (1, -1):
        start = centre_fit if centre_fit.converged else None
        for i in range(centre + direction, grid_points if direction > 0 else -1, direction):
            fit = refit(i, start)
            start = fit if fit.converged else start
    # work on the oriented scale (increasing); the log posterior is smooth, so a cubic spline through the grid
    # values and adaptive quadrature of its exponential give the probabilities far more accurately than a
    # trapezoid rule on the grid itself
    x = -grid[::-1] if orientation == "lower" else grid
    lp = log_post[::-1] if orientation == "lower" else log_post
    # Far out in the tails (6-7 SE, thresholds near ±30) a refit can still stop at its iteration limit without
    # converging: such grid points carry no usable mass and are left out of the spline; without the fit at the
    # estimate itself, or with half the grid gone, there is no posterior.
    ok = np.isfinite(lp)
    if ok.sum() < grid_points // 2 or not ok[np.argmin(np.abs(x - (-b_hat if orientation == "lower" else b_hat)))]:
        raise UserError("the proportional-odds posterior cannot be computed: the model cannot be fitted around "
                        "the estimate (too few patients, or a category empty in one arm)")
    x, lp = x[ok], lp[ok]
    spline = CubicSpline(x, lp - lp.max())

    def density(v: float) -> float:
        # capped: between badly conditioned grid points a cubic can overshoot, and exp must not overflow
        return math.exp(min(float(spline(v)), 30.0))

    def mass(a: float, b: float) -> float:
        val, _ = integrate.quad(density, a, b, epsabs=0, epsrel=1e-11, limit=200)
        return float(val)

    total = mass(x[0], x[-1])

    def prob_above(v: float) -> float:
        return 1.0 if v <= x[0] else 0.0 if v >= x[-1] else mass(v, x[-1]) / total

    def quantile(q: float) -> float:
        return float(optimize.brentq(lambda v: (1 - prob_above(v)) - q, x[0], x[-1], xtol=1e-9))

    q = (1 - cred_level) / 2
    return Posterior("odds_ratio", "proportional-odds likelihood, Laplace-approximate marginal posterior on a grid",
                     f"log odds_ratio ~ N({prior_mean:g}, {prior_sd:g}^2); flat on thresholds and covariates",
                     math.exp(quantile(0.5)), math.exp(quantile(q)), math.exp(quantile(1 - q)), prob_above(0.0),
                     important, prob_above(math.log(important)) if important is not None else None, "odds_ratio > 1")
