"""Proportional-odds model against ordinal::clm, the LR test of proportional odds against clm's nominal model,
and Wilcoxon–Mann–Whitney against wilcox.test. Tolerances: 1e-6 relative (clm converges to ~1e-10 gradient)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from equipoise.analyze.cumulative_logit import fit_cumulative_logit
from equipoise.analyze.frame import analyze_ordinal
from equipoise.protocol import WHO_CLINICAL_PROGRESSION_SCALE


def test_wine_against_clm(ref, dataset):
    r = ref["ordinal"]["wine"]
    res = analyze_ordinal(dataset("wine"), outcome="rating", arm="arm", control="cold", covariates=["contact"])
    assert res.log_odds_ratio == pytest.approx(r["beta"], rel=1e-6)  # better unknown: odds of a higher level
    assert res.se == pytest.approx(r["se"], rel=1e-6)
    assert list(res.thresholds.values()) == pytest.approx(r["thresholds"], rel=1e-6)
    assert res.log_likelihood == pytest.approx(r["loglik"], rel=1e-9)
    assert res.po_test is not None
    assert res.po_test.chisq == pytest.approx(r["lr_chisq"], rel=1e-5)
    assert res.po_test.df == r["lr_df"]
    assert res.po_test.p_value == pytest.approx(r["lr_p"], rel=1e-5)
    assert res.wilcoxon.statistic == pytest.approx(ref["wilcoxon_wine"]["W"])
    assert res.wilcoxon.p_value == pytest.approx(ref["wilcoxon_wine"]["p"], rel=1e-9)


@pytest.mark.parametrize(("case", "covariates"), [("sim", ["severity", "age"]), ("sim_unadjusted", [])])
def test_simulated_who_scale_against_clm(ref, dataset, case, covariates):
    r = ref["ordinal"][case]
    res = analyze_ordinal(dataset("sim"), outcome="who_day28", arm="arm", control="placebo", covariates=covariates,
                          scale=WHO_CLINICAL_PROGRESSION_SCALE, better="lower")
    # better: lower, so the reported odds ratio is for a lower (better) level: exp(-beta) in clm's terms
    assert res.log_odds_ratio == pytest.approx(-r["beta"], rel=1e-6)
    assert res.se == pytest.approx(r["se"], rel=1e-6)
    assert res.odds_ratio.estimate == pytest.approx(math.exp(-r["beta"]), rel=1e-6)
    assert list(res.thresholds.values()) == pytest.approx(r["thresholds"], rel=1e-6)
    assert res.po_test is not None
    assert res.po_test.chisq == pytest.approx(r["lr_chisq"], rel=1e-4)
    assert res.po_test.p_value == pytest.approx(r["lr_p"], rel=1e-4)
    for name, (est, se) in res.covariate_effects.items():
        assert est == pytest.approx(r["coef"][name], rel=1e-6)
        assert se == pytest.approx(r["se_all"][name], rel=1e-6)
    d = res.to_dict()
    assert {"log_odds_ratio", "se", "odds_ratio", "ci_low", "ci_high", "p_value", "thresholds", "direction"} <= set(d)
    assert "above 1 favours msc" in d["direction"]
    assert ref["wilcoxon"]["p"] == pytest.approx(res.wilcoxon.p_value, rel=1e-9)


def test_newton_fit_recovers_a_large_simulated_effect():
    rng = np.random.default_rng(7)
    n = 20000
    x = rng.integers(0, 2, n).astype(float)
    latent = 0.7 * x + rng.logistic(size=n)
    y = np.digitize(latent, [-1.0, 0.0, 1.5])
    fit = fit_cumulative_logit(y, x[:, None])
    assert fit.converged
    assert fit.beta[0] == pytest.approx(0.7, abs=4 * fit.beta_se[0])
    assert fit.thresholds[:, 0] == pytest.approx([-1.0, 0.0, 1.5], abs=0.08)


def test_a_fit_whose_line_search_gives_up_is_not_reported_converged():
    # Every patient in one arm: the arm's coefficient is aliased with the thresholds and the fit drifts to
    # ~1e12 while the likelihood stops moving. The step-halving search then gives up with a halved step below
    # the tolerance, which the fit used to report as "converged" (with a finite covariance for an estimate of
    # 1e12); found by a random search over sparse data.
    y = np.array([0, 1, 2, 1, 0, 0, 1, 1])
    aliased = np.column_stack([np.ones(8), [-0.598, 1.072, -0.697, -0.196, 0.887, 1.722, -1.311, 0.921]])
    fit = fit_cumulative_logit(y, aliased)
    assert not fit.converged
    assert np.all(np.isnan(fit.covariance))
    # an ordinary fit of the same size still converges, to the same estimate from any start
    ordinary = np.column_stack([[1, 0, 1, 0, 1, 0, 1, 0], aliased[:, 1]])
    ok = fit_cumulative_logit(y, ordinary)
    assert ok.converged
    assert np.all(np.isfinite(ok.covariance))
    again = fit_cumulative_logit(y, ordinary, start=fit_cumulative_logit(y, ordinary, max_iter=1))
    assert np.allclose(again.beta, ok.beta, atol=1e-8)


def test_separation_by_a_covariate_gives_the_limit_fit_for_the_arm():
    # Every patient with z = 1 is in the top level: z's coefficient has no finite maximum (quasi-complete
    # separation). As it grows those patients' likelihood tends to 1, so the limit of the other estimates is the
    # fit without them; the arm's estimate and standard error are that limit's, z's variance is infinite.
    # Reference: R's clm on the same data (tests/reference/analyze_po_separation.R), which stops with z large and
    # gives the same thresholds and arm but no standard errors, and clm without the z = 1 patients.
    ref = json.loads((Path(__file__).resolve().parents[1] / "reference" / "fixtures" /
                      "analyze_po_separation.json").read_text())
    y = np.array(ref["data"]["y"])
    arm = np.array(ref["data"]["arm"], float)
    z = np.array(ref["data"]["z"], float)
    fit = fit_cumulative_logit(y, np.column_stack([arm, z]))
    assert not fit.converged  # there is no maximum
    k = fit.thresholds.size
    assert fit.separated == (k + 1,)
    assert np.isinf(fit.beta_se[1])
    assert fit.beta[0] == pytest.approx(ref["full"]["arm"], abs=1e-6)
    assert fit.thresholds[:, 0] == pytest.approx(ref["full"]["thresholds"], abs=1e-6)
    assert fit.beta_se[0] == pytest.approx(ref["without"]["arm_se"], rel=1e-5)
    without = fit_cumulative_logit(y[z == 0], arm[z == 0, None])
    assert without.converged
    assert without.beta[0] == pytest.approx(ref["without"]["arm"], abs=1e-6)
