"""Posterior probabilities of benefit and of a clinically important effect, as REMAP-CAP reports them.

Two methods, both stated in the result:

- ``normal_posterior``: a normal prior on the log effect (log OR, log HR, log RR) combined with the normal
  approximation to the likelihood at the maximum-likelihood estimate (estimate, SE), which gives a normal
  posterior in closed form (Spiegelhalter, Abrams & Myles 2004, §3.6). For the proportional-odds model this is
  the Laplace approximation of the marginal posterior with flat priors on the thresholds and covariates.
- ``beta_binomial_posterior``: independent Beta priors on each arm's event risk; posterior probabilities that
  the risk difference or risk ratio passes a threshold, by one-dimensional numerical integration (exact up to
  quadrature error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from scipy import integrate, stats

from equipoise.analyze.results import clean, fmt


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
    ratios above or below 1 are benefit; ``important`` is a ratio threshold (e.g. 1.2 for OR, 0.8 for HR)."""
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
    Beta(prior_a, prior_b) priors, integrating the posterior density of p_c against the cdf of p_e."""
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
    from scipy.optimize import brentq

    def rr_quantile(prob: float) -> float:
        return float(brentq(lambda r: p_ratio_below(r) - prob, 1e-6, 1e6, xtol=1e-10))

    return Posterior("risk_ratio", "independent Beta priors, exact posterior by numerical integration",
                     f"Beta({prior_a:g}, {prior_b:g}) on each arm's risk", rr_quantile(0.5), rr_quantile(0.025),
                     rr_quantile(0.975), p_benefit, important_rr, p_imp,
                     f"risk_ratio {'<' if lower_better else '>'} 1")
