"""Mean difference and ANCOVA against t.test and lm; posterior probabilities against numerical integration in R."""

from __future__ import annotations

import math

import pytest

from equipoise.analyze.bayes import beta_binomial_posterior, normal_posterior
from equipoise.analyze.frame import analyze_continuous


def test_mean_difference_and_ancova(ref, dataset):
    r = ref["continuous"]
    res = analyze_continuous(dataset("sim"), outcome="spo2", arm="arm", control="placebo",
                             covariates=["severity", "age"], better="higher")
    assert [res.mean_difference.ci_low, res.mean_difference.ci_high] == pytest.approx(r["welch"]["ci"], rel=1e-9)
    assert res.mean_difference.p_value == pytest.approx(r["welch"]["p"], rel=1e-8)
    assert [res.pooled.ci_low, res.pooled.ci_high] == pytest.approx(r["pooled"]["ci"], rel=1e-9)
    assert res.pooled.p_value == pytest.approx(r["pooled"]["p"], rel=1e-8)
    assert res.ancova is not None
    assert res.ancova.estimate == pytest.approx(r["ancova"]["est"], rel=1e-9)
    assert res.ancova.se == pytest.approx(r["ancova"]["se"], rel=1e-9)
    assert [res.ancova.ci_low, res.ancova.ci_high] == pytest.approx(r["ancova"]["ci"], rel=1e-9)
    assert res.ancova.p_value == pytest.approx(r["ancova"]["p"], rel=1e-8)
    assert "above 0 favours msc" in res.direction


def test_beta_binomial_posterior_against_r_integrate(ref):
    r = ref["beta_binomial"]
    post = beta_binomial_posterior(r["xe"], r["ne"], r["xc"], r["nc"], better="lower", important_rr=0.8)
    assert post.probability_of_benefit == pytest.approx(r["p_rr_below_1"], abs=1e-8)
    assert post.probability_important == pytest.approx(r["p_rr_below_0.8"], abs=1e-8)
    assert post.credible_low < post.posterior_median < 1 < post.credible_high


def test_normal_posterior_against_r_integrate(ref):
    r = ref["normal_posterior"]
    post = normal_posterior(r["estimate"], r["se"], measure="odds_ratio", benefit="above", prior_sd=r["prior_sd"],
                            important=1.2)
    assert post.probability_of_benefit == pytest.approx(r["p_benefit"], abs=1e-9)
    assert post.probability_important == pytest.approx(r["p_or_above_1.2"], abs=1e-9)
    # conjugate posterior mean: precision-weighted average of prior mean 0 and estimate
    w = (1 / r["se"] ** 2) / (1 / r["se"] ** 2 + 1 / r["prior_sd"] ** 2)
    assert math.log(post.posterior_median) == pytest.approx(w * r["estimate"])


def test_proportional_odds_posterior_against_r_laplace_integration(ref, dataset):
    """The Laplace-approximate marginal posterior of the PO odds ratio (nuisance parameters integrated out),
    against the same quantity computed in R by refitting clm with an offset inside integrate()."""
    import numpy as np

    from equipoise.analyze.bayes import proportional_odds_posterior
    from equipoise.analyze.data import covariate_design

    df = dataset("sim")
    y = np.searchsorted(np.unique(df["who_day28"]), df["who_day28"])
    cov = covariate_design(df, ["severity", "age"]).matrix
    r = ref["po_posterior"]
    post = proportional_odds_posterior(y, (df["arm"] == "msc").to_numpy(float), cov, orientation="lower",
                                       prior_sd=r["prior_sd"], important=1.2)
    assert post.probability_of_benefit == pytest.approx(r["p_benefit"], abs=1e-6)
    assert post.probability_important == pytest.approx(r["p_or_above_1.2"], abs=1e-6)
    assert post.credible_low < post.posterior_median < post.credible_high
