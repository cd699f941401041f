"""Binary estimators against R (fisher.test, prop.test, glm, metafor::rma.mh, mantelhaen.test) and Newcombe's
published example. Tolerances: 1e-6 relative for estimates and SEs, 1e-6 for p-values and limits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from equipoise.analyze.binary import clopper_pearson, mantel_haenszel, two_by_two, wilson_interval
from equipoise.analyze.frame import analyze_binary

REL = 1e-6


def test_newcombe_published_example():
    # Newcombe (1998) Stat Med 17:873, Table II, example (a): 56/70 vs 48/80, method 10: 0.0524 to 0.3339
    est = two_by_two(56, 70, 48, 80)["risk_difference.newcombe"]
    assert est.estimate == pytest.approx(0.2)
    assert est.ci_low == pytest.approx(0.0524, abs=5e-5)
    assert est.ci_high == pytest.approx(0.3339, abs=5e-5)


@pytest.mark.parametrize("case", ["sim_died", "small", "zero"])
def test_two_by_two_against_r(ref, case):
    r = ref["two_by_two"][case]
    allv = two_by_two(r["x1"], r["n1"], r["x0"], r["n0"])
    exact = allv["odds_ratio.exact"]
    # fisher.test finds the conditional MLE and the limits with uniroot (tolerance ~1e-4, which leaves up to
    # ~4e-4 relative in the limits, see test_exact_limits_solve_the_tail_equation); scipy solves them exactly
    assert exact.estimate == pytest.approx(r["fisher_or"], rel=1e-4, abs=1e-9)
    assert exact.ci_low == pytest.approx(r["fisher_low"], rel=5e-4, abs=1e-9)
    assert exact.ci_high == pytest.approx(r["fisher_high"], rel=5e-4)
    assert exact.p_value == pytest.approx(r["fisher_p"], rel=REL)
    assert allv["risk_difference.newcombe"].p_value == pytest.approx(r["prop_test_p"], rel=REL)
    assert wilson_interval(r["x1"], r["n1"]) == pytest.approx(r["wilson1"], rel=REL, abs=1e-12)
    assert wilson_interval(r["x0"], r["n0"]) == pytest.approx(r["wilson0"], rel=REL)
    assert clopper_pearson(r["x1"], r["n1"]) == pytest.approx(r["clopper1"], rel=REL, abs=1e-12)
    if "log_or" in r:  # R values from saturated glm fits, converged to glm's 1e-8 deviance criterion
        assert math.log(allv["odds_ratio.wald"].estimate) == pytest.approx(r["log_or"], rel=REL)
        assert allv["odds_ratio.wald"].se == pytest.approx(r["se_log_or"], rel=1e-5)
        assert math.log(allv["risk_ratio.wald"].estimate) == pytest.approx(r["log_rr"], rel=1e-5)
        assert allv["risk_ratio.wald"].se == pytest.approx(r["se_log_rr"], rel=1e-5)


def test_zero_cell_gets_haldane_correction(ref):
    r = ref["zero_cell_corrected"]
    allv = two_by_two(0, 10, 4, 12)
    assert math.log(allv["odds_ratio.wald"].estimate) == pytest.approx(r["OR"]["yi"], rel=REL)
    assert (allv["odds_ratio.wald"].se or 0.0) ** 2 == pytest.approx(r["OR"]["vi"], rel=REL)
    assert math.log(allv["risk_ratio.wald"].estimate) == pytest.approx(r["RR"]["yi"], rel=REL)
    assert (allv["risk_ratio.wald"].se or 0.0) ** 2 == pytest.approx(r["RR"]["vi"], rel=REL)
    assert "0.5 added" in allv["odds_ratio.wald"].method


@pytest.mark.parametrize("case", ["mantel_haenszel", "mantel_haenszel_zero"])
def test_mantel_haenszel_against_metafor(ref, case):
    r = ref[case]
    t = r["tables"]
    mh = mantel_haenszel([x["ai"] for x in t], [x["n1"] for x in t], [x["ci"] for x in t], [x["n2"] for x in t])
    assert math.log(mh.odds_ratio.estimate) == pytest.approx(r["OR"]["estimate"], rel=REL)
    assert mh.odds_ratio.se == pytest.approx(r["OR"]["se"], rel=REL)
    assert math.log(mh.risk_ratio.estimate) == pytest.approx(r["RR"]["estimate"], rel=REL)
    assert mh.risk_ratio.se == pytest.approx(r["RR"]["se"], rel=REL)
    assert mh.risk_difference.estimate == pytest.approx(r["RD"]["estimate"], rel=REL)
    assert mh.risk_difference.se == pytest.approx(r["RD"]["se"], rel=REL)
    if "cmh_chisq" in r:
        assert mh.cmh_chisq == pytest.approx(r["cmh_chisq"], rel=REL)
        assert mh.cmh_p == pytest.approx(r["cmh_p"], rel=REL)
        assert mh.odds_ratio.p_value == pytest.approx(r["OR"]["p"], rel=REL)


def test_stratified_and_adjusted_analysis_of_a_frame(ref, dataset):
    df = dataset("sim")
    res = analyze_binary(df, outcome="died", arm="arm", control="placebo", strata=["severity"],
                         covariates=["severity", "age"], better="lower")
    r = ref["mantel_haenszel"]
    assert math.log(res.odds_ratio.estimate) == pytest.approx(r["OR"]["estimate"], rel=REL)
    assert res.risk_difference.p_value == pytest.approx(r["cmh_p"], rel=REL)
    lg = ref["logistic"]
    assert res.logistic is not None
    coefs = list(res.logistic.coefficients.values())
    # R orders severity levels alphabetically too: critical (reference), mild, severe
    # glm stops at a relative deviance change of 1e-8, which leaves ~1e-6 in the coefficients
    assert [c[0] for c in coefs] == pytest.approx(lg["coef"], rel=1e-5)
    assert [c[1] for c in coefs] == pytest.approx(lg["se"], rel=1e-5)
    assert res.logistic.log_likelihood == pytest.approx(lg["loglik"], rel=1e-9)
    d = res.to_dict()
    for key in ("risk_difference", "risk_ratio", "odds_ratio"):
        assert set(d[key]) >= {"estimate", "ci_low", "ci_high", "p_value"}
    assert "favour msc" in d["direction"]


def test_interval_choices_change_the_headline(dataset):
    df = dataset("sim")
    wald = analyze_binary(df, outcome="died", arm="arm", control="placebo", interval="wald")
    exact = analyze_binary(df, outcome="died", arm="arm", control="placebo", interval="exact")
    assert wald.odds_ratio.method.startswith("Woolf")
    assert exact.odds_ratio.method.startswith("conditional MLE")
    assert exact.risk_difference.p_value == exact.odds_ratio.p_value
    assert wald.odds_ratio.ci_low != pytest.approx(exact.odds_ratio.ci_low, rel=1e-3)


def test_exact_limits_solve_the_tail_equation():
    """The lower exact limit is the odds ratio at which P(X >= x) = 0.025 under the noncentral hypergeometric."""
    from scipy.special import comb

    x, n1, x0, n0 = 3, 11, 8, 12
    k = x + x0
    support = np.arange(max(0, k - n0), min(k, n1) + 1)
    low = two_by_two(x, n1, x0, n0)["odds_ratio.exact"].ci_low

    def upper_tail(odds: float) -> float:
        w = comb(n1, support) * comb(n0, k - support) * odds**support
        return float(w[support >= x].sum() / w.sum())

    assert upper_tail(low) == pytest.approx(0.025, abs=1e-9)


def test_a_further_randomization_is_analysed_among_the_patients_randomized_in_it():
    """An export's arm_<part> column is empty for patients not randomized in that part: they are left out of
    its comparison (the same counts as the frame without them), while an empty main arm is refused."""
    import pandas as pd

    from equipoise.errors import UserError

    df = pd.DataFrame({"arm": ["msc", "placebo", "msc", "placebo", "msc", "placebo"],
                       "arm_tocilizumab": ["tocilizumab", "usual-care", None, "tocilizumab", "usual-care", None],
                       "died": [0, 1, 1, 0, 1, 0]})
    part = analyze_binary(df, outcome="died", arm="arm_tocilizumab", control="usual-care")
    randomized = analyze_binary(df.dropna(subset=["arm_tocilizumab"]), outcome="died", arm="arm_tocilizumab",
                                control="usual-care")
    assert [(a.events, a.n) for a in part.arms] == [(a.events, a.n) for a in randomized.arms] == [(0, 2), (2, 2)]
    with pytest.raises(UserError, match="every randomised patient needs an arm"):
        analyze_binary(df.assign(arm=["msc", "", "msc", "placebo", "msc", "placebo"]), outcome="died", arm="arm",
                       control="placebo")
