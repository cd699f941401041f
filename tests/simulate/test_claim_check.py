"""The claim check: the same single-arm study with no effect, a plausible effect and a large one, side by side."""

import json

import numpy as np
import pytest

from equipoise.errors import UserError
from equipoise.protocol import load_protocol
from equipoise.simulate.claim_check import (
    Scenario,
    check_claim,
    improved_count_distribution,
    improvement_probability,
    rarity,
)
from equipoise.simulate.natural_history import load_natural_history
from equipoise.simulate.single_arm import SingleArmDesign, simulate_single_arm, single_arm_design_from_protocol

MODEL = load_natural_history()
SCENARIOS = [Scenario("no effect", 1.0), Scenario("a plausible effect", 1.3), Scenario("a large effect", 3.0)]


def test_exact_improved_count_matches_the_simulated_studies(examples):
    """The exact distribution (one binomial per severity class, convolved) against 40,000 simulated studies."""
    design = single_arm_design_from_protocol(load_protocol(examples / "covid19-msc-single-arm.yaml"), MODEL)
    for odds in (1.0, 3.0):
        exact = improved_count_distribution(design, MODEL, odds)
        assert exact.sum() == pytest.approx(1.0)
        sim = simulate_single_arm(design, MODEL, odds_ratio=odds, n_trials=40_000, seed=3)
        mc = np.array([sim.improved_distribution[k] for k in range(32)])
        assert np.max(np.abs(mc - exact) - 4 * np.sqrt(exact * (1 - exact) / 40_000)) < 1e-3
        mean = float(np.dot(np.arange(32), exact))
        assert sim.expected["improved"] == pytest.approx(mean, abs=0.05)


def test_per_patient_probability_is_the_simulated_one():
    p = improvement_probability(MODEL, "severe", 14, 3.0)
    sim = simulate_single_arm(SingleArmDesign({"severe": 1}), MODEL, odds_ratio=3.0, n_trials=50_000, seed=5)
    assert sim.claim("all_improved").probability == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / 50_000))


def test_beijing_claim_cannot_tell_no_effect_from_a_real_one(examples):
    design = single_arm_design_from_protocol(load_protocol(examples / "covid19-msc-single-arm.yaml"), MODEL)
    check = check_claim(design, MODEL, SCENARIOS, n_trials=1000, seed=1)
    none, plausible, large = check.results
    # 'all 31 improved' is rare with no effect AND with a large effect: it cannot tell them apart
    assert none.p_all_improved < 1e-5
    assert plausible.p_all_improved < 1e-4
    assert 0.003 < large.p_all_improved < 0.01
    assert none.expected_improved < plausible.expected_improved < large.expected_improved
    # what no effect gives in at most 5% of studies, a plausible effect gives rarely too
    k = check.threshold
    assert none.p_at_least(k) <= 0.05 < none.p_at_least(k - 1)
    assert plausible.p_at_least(k) < 0.2
    text = str(check)
    flat = " ".join(text.split())
    for phrase in ("no effect", "a plausible effect", "a large effect", "odds ratio 3", "cannot tell them apart",
                   "It does not show that the therapy works", "randomized control", "daily transition"):
        assert phrase in flat, phrase
    assert "without any effect, 86%" not in flat
    d = check.to_dict()
    json.dumps(d)
    assert [s["label"] for s in d["scenarios"]] == ["no effect", "a plausible effect", "a large effect"]
    assert d["probability_all_improved"]["a large effect"] == pytest.approx(large.p_all_improved)
    assert d["n_trials_per_scenario"] == 1000
    assert "daily transition" in d["effect_scale"]


def test_claim_check_starts_from_no_effect_and_rarity_reads_right():
    with pytest.raises(UserError, match="no effect"):
        check_claim(SingleArmDesign({"mild": 2}), MODEL, [Scenario("x", 2.0)], n_trials=10)
    assert rarity(0.0055) == "0.55%"
    assert rarity(9.2e-7) == "1 in 1.1 million"
    assert rarity(1.37e-5) == "1 in 73,000"


def test_single_scenario_text_with_an_effect_says_the_figures_are_with_it():
    """The old bug: with or=3 the text said 'without any effect, 86% ... improve' (86% was WITH the effect)."""
    result = simulate_single_arm(SingleArmDesign({"severe": 8}), MODEL, odds_ratio=3.0, n_trials=500, seed=2)
    text = str(result)
    assert "without any effect" not in text
    assert "with this effect" in text


def test_progress_counts_every_scenario_to_the_end():
    """The CLI's progress bar is fed over all the columns, not restarted for each."""
    seen: list[tuple[int, int]] = []
    check_claim(SingleArmDesign({"mild": 2}), MODEL, SCENARIOS[:2], n_trials=300,
                progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (600, 600)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_no_effect_alone_says_it_needs_the_comparison():
    check = check_claim(SingleArmDesign({"mild": 3}), MODEL, SCENARIOS[:1], n_trials=200)
    text = " ".join(str(check).split())
    assert "set it against the same study with a real effect" in text
    assert "no other column" not in text
