"""Bayesian adaptive platform trials: adaptr's published README scenario, the quadrature behind every posterior
probability, and the platform features (shared control, arms added later, RAR floors)."""

import math

import numpy as np
import pytest

from equipoise.analyze.beta_quadrature import prob_best, prob_better_than, prob_within
from equipoise.errors import UserError
from equipoise.simulate.platform import PlatformDesign, constrain, simulate_platform

# adaptr 1.4.0 README (INCEPTdk/adaptr): 3 arms, true rates 0.25, min_probs 0.2, data looks 300..2000 by 100,
# randomised 400..2000 (2000 at the last look), equivalence P > 0.9 of differences < 0.05, superiority threshold
# calibrated to 0.9814318 (inferiority 1 - that). 1000 simulations: P(superiority) 0.048, P(equivalence)
# 0.381, mean size 1749.6 (bootstrap SE 11.36).
ADAPTR = PlatformDesign(
    arms=("A", "B", "C"), true_rates=(0.25, 0.25, 0.25), min_probs=(0.2, 0.2, 0.2),
    data_looks=tuple(range(300, 2001, 100)), randomised_at_looks=(*range(400, 2001, 100), 2000),
    superiority=0.9814318, inferiority=1 - 0.9814318, equivalence_prob=0.9, equivalence_diff=0.05,
)


def test_reproduces_adaptr_readme_scenario():
    n = 2000
    r = simulate_platform(ADAPTR, n_trials=n, seed=4131)
    for key, published in (("superiority", 0.048), ("equivalence", 0.381)):
        se = math.sqrt(published * (1 - published) * (1 / n + 1 / 1000))
        assert abs(r.probabilities[key] - published) <= 3 * se, key
    assert abs(r.expected_n - 1749.6) <= 3 * math.sqrt(11.36 ** 2 + r.sd_n ** 2 / n)
    assert r.probabilities["futility"] == 0
    assert sum(r.probabilities.values()) == pytest.approx(1)
    assert r.probability_select_best == 1  # every arm is best when all are equal
    assert sum(r.stop_probability_by_look) == pytest.approx(1)


def test_quadrature_agrees_with_posterior_draws():
    rng = np.random.default_rng(0)
    a = np.array([[30.0, 40, 35, 20], [80, 95, 70, 88]])
    b = np.array([[100.0, 90, 95, 80], [300, 280, 310, 290]])
    active = np.ones_like(a, dtype=bool)
    active[1, 3] = False
    draws = rng.beta(a[..., None], b[..., None], size=(2, 4, 200_000))
    masked = np.where(active[..., None], draws, np.inf)
    by_draws = np.stack([(masked.argmin(axis=1) == j).mean(axis=1) for j in range(4)], axis=1)
    assert prob_best(a, b, active, False) == pytest.approx(by_draws, abs=0.004)
    spread = np.nanmax(np.where(active[..., None], draws, np.nan), axis=1) - np.nanmin(
        np.where(active[..., None], draws, np.nan), axis=1)
    assert prob_within(a, b, active, 0.05) == pytest.approx((spread < 0.05).mean(axis=1), abs=0.004)
    better = prob_better_than(a, b, np.array([0, 0]), 0.02, False)
    assert better[:, 1:] == pytest.approx((draws[:, 1:] < draws[:, :1] - 0.02).mean(axis=2), abs=0.004)


def test_allocation_floors_and_ceilings():
    p = constrain(np.array([[0.9, 0.05, 0.05, 0.0]]), np.array([[True, True, True, False]]),
                  np.array([[0.2, 0.2, 0.2, 0.2]]), np.array([[0.5, 1.0, 1.0, 1.0]]))
    assert p.sum() == pytest.approx(1)
    assert p[0, 0] == pytest.approx(0.5)
    assert p[0, 3] == 0
    assert np.all(p[0, :3] >= 0.2 - 1e-12)


def test_shared_control_platform_finds_the_effective_arm_and_drops_harmful_ones():
    design = PlatformDesign(
        arms=("usual_care", "dexa", "hcq", "azithro"), true_rates=(0.25, 0.17, 0.25, 0.32), control="usual_care",
        control_prob_fixed="sqrt", min_probs=(0.0, 0.15, 0.15, 0.15), data_looks=tuple(range(400, 4001, 400)),
        superiority=0.99, inferiority=0.01, futility_prob=0.1, futility_diff=0.05, added_at_look={"azithro": 2},
    )
    r = simulate_platform(design, n_trials=300, seed=8)
    assert r.select_probabilities["dexa"] > 0.8
    assert r.probability_select_best == r.select_probabilities["dexa"]
    assert r.drop_probability["azithro"] > 0.8
    assert r.expected_n <= 4000
    assert "dexa" in str(r)


def test_bad_platform_designs():
    with pytest.raises(UserError, match="two distinct arms"):
        PlatformDesign(arms=("A",), true_rates=(0.2,), data_looks=(100,))
    with pytest.raises(UserError, match="increasing"):
        PlatformDesign(arms=("A", "B"), true_rates=(0.2, 0.2), data_looks=(200, 100))
    with pytest.raises(UserError, match="control"):
        PlatformDesign(arms=("A", "B"), true_rates=(0.2, 0.2), data_looks=(100,), control="C")
    with pytest.raises(UserError, match="sum to at most 1"):
        PlatformDesign(arms=("A", "B"), true_rates=(0.2, 0.2), data_looks=(100,), min_probs=(0.6, 0.6))
