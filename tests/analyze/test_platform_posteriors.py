"""The adaptive platform's posterior probabilities against exact and quadrature values from R
(tests/reference/platform_posteriors.R), the proportional-odds Laplace fit against ordinal::clm and against
numerical integration of the exact posterior, and the decision rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit

from equipoise.analyze.beta_quadrature import prob_best, prob_better_than, prob_within
from equipoise.analyze.platform_posteriors import Decision, binary_posteriors, decide, ordinal_posteriors
from equipoise.analyze.po_laplace import fit_proportional_odds
from equipoise.protocol.adaptive_platform import Action, BetaPrior, DecisionRule, DecisionRules

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "fixtures" / "platform_posteriors.json")
                 .read_text(encoding="utf-8"))
QUADRATURE_TOL = 5e-4  # the shared 160-point grid (trapezoid, interpolated CDF) against R's adaptive quadrature


@pytest.mark.parametrize("case", REF["better"])
def test_better_than_control_against_exact_and_quadrature(case):
    a = np.array([[case["arm"][0], case["control"][0]]], dtype=float)
    b = np.array([[case["arm"][1], case["control"][1]]], dtype=float)
    assert case["quadrature"][0] == pytest.approx(case["exact"], abs=1e-12)  # R's two references agree
    for margin, expected in zip(case["margins"], case["quadrature"], strict=True):
        assert prob_better_than(a, b, np.array([1]), margin, False)[0, 0] == pytest.approx(expected,
                                                                                           abs=QUADRATURE_TOL)


@pytest.mark.parametrize("case", REF["best"])
def test_best_and_within_against_quadrature(case):
    a, b = np.array([case["a"]], dtype=float), np.array([case["b"]], dtype=float)
    active = np.ones_like(a, dtype=bool)
    assert prob_best(a, b, active, False)[0] == pytest.approx(case["p_best_lower"], abs=QUADRATURE_TOL)
    assert prob_best(a, b, active, True)[0] == pytest.approx(case["p_best_higher"], abs=QUADRATURE_TOL)
    assert prob_within(a, b, active, 0.05)[0] == pytest.approx(case["p_within_0.05"], abs=QUADRATURE_TOL)


@pytest.mark.parametrize("case", REF["ordinal"])
def test_laplace_with_vague_priors_is_clm(case):
    counts = np.array(case["counts"], dtype=float)
    fit = fit_proportional_odds(counts, 0, log_or_sd=1e4, intercept_sd=1e4)
    assert fit.theta[0] == pytest.approx(case["theta"], abs=1e-6)
    assert fit.beta[0, 1:] == pytest.approx(case["beta"], abs=1e-6)
    assert fit.cov[0] == pytest.approx(np.array(case["vcov"]), abs=1e-6)


def test_laplace_against_numerical_integration_of_the_posterior():
    """18 patients, 3 levels, Normal(0, 1) on the log odds ratio: the Laplace approximation against the exact
    posterior integrated on a 141 x 161 x 161 grid (the approximation is close, not exact, on so few patients)."""
    counts = np.array([[3, 4, 2], [6, 2, 1]], dtype=float)
    t0, t1, beta = np.meshgrid(np.linspace(-8, 6, 141), np.linspace(-6, 10, 161), np.linspace(-6, 6, 161),
                               indexing="ij")
    log_post = -(t0**2 + t1**2) / 200 - beta**2 / 2
    for arm, effect in ((0, 0.0), (1, 1.0)):
        g0, g1 = expit(effect * beta - t0), expit(effect * beta - t1)
        for j, p in enumerate((1 - g0, g0 - g1, g1)):
            log_post = log_post + counts[arm, j] * np.log(np.maximum(p, 1e-300))
    w = np.exp(log_post - log_post.max())
    w /= w.sum()
    exact_p_better = w[beta < 0].sum()
    post = ordinal_posteriors(counts[None], 0, np.array([[False, True]]), 1.0, 10.0, True, np.random.default_rng(1))
    assert post.p_better[0, 1] == pytest.approx(exact_p_better, abs=0.01)
    assert post.estimate[0, 1] == pytest.approx((w * beta).sum(), abs=0.05)
    assert post.p_best[0, 1] == 1.0  # the only experimental arm


def test_ordinal_best_arm_and_margins():
    counts = np.array([[[20, 30, 25, 15, 10], [35, 30, 20, 10, 5], [20, 30, 25, 15, 10]]], dtype=float)
    post = ordinal_posteriors(counts, 0, np.array([[False, True, True]]), 1.0, 10.0, True,
                              np.random.default_rng(2), futility_margin=1.2, equivalence_margin=1.5)
    assert post.p_better[0, 1] > 0.99
    assert post.p_best[0, 1] > 0.98
    assert post.p_best[0].sum() == pytest.approx(1)
    assert post.p_better_margin is not None
    assert post.p_better_margin[0, 1] < post.p_better[0, 1]
    assert post.p_equivalent is not None
    assert post.p_equivalent[0, 2] > post.p_equivalent[0, 1]


def test_binary_posteriors_and_decisions():
    events = np.array([[50.0, 25, 50, 80]])
    n = np.array([[200.0, 200, 200, 200]])
    active = np.array([[False, True, True, True]])
    post = binary_posteriors(events, n, 0, active, BetaPrior(), True, futility_margin=0.05, equivalence_margin=0.03)
    rules = DecisionRules(min_patients_per_arm=100,
                          superiority=DecisionRule(probability=0.99, action=Action.DROP_ARM),
                          inferiority=DecisionRule(probability=0.01, action=Action.DROP_ARM),
                          futility=DecisionRule(probability=0.05, margin=0.05, action=Action.DROP_ARM))
    codes = decide(post, n, active, 0, rules)
    assert list(codes[0]) == [Decision.CONTINUE, Decision.SUPERIORITY, Decision.CONTINUE, Decision.INFERIORITY]
    assert post.p_best[0, 1] > 0.99
    assert post.estimate[0, 1] == pytest.approx(26 / 202)
    # no rule acts before the minimum sample
    assert not decide(post, n / 4, active, 0, rules).any()
