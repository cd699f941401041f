"""The founding lesson: how often would a 31-patient single-arm study 'show improvement' with no effect?"""

import json

import numpy as np
import pytest

from equipoise.errors import UserError
from equipoise.protocol import load_protocol
from equipoise.simulate.natural_history import load_natural_history
from equipoise.simulate.single_arm import SingleArmDesign, simulate_single_arm, single_arm_design_from_protocol

MODEL = load_natural_history()


def test_design_is_read_from_the_protocol_composition(examples):
    design = single_arm_design_from_protocol(load_protocol(examples / "covid19-msc-single-arm.yaml"), MODEL)
    assert design.composition == {"mild": 16, "severe": 8, "critical": 7}
    assert design.n_patients == 31
    assert (design.claim_day, design.horizon) == (14, 28)


def test_claims_are_consistent_with_the_exact_per_patient_probabilities():
    """With one patient class, P(all k improved) is checked against the exact marginal probability (iid patients)."""
    design = SingleArmDesign({"mild": 3}, claim_day=28, horizon=28)
    result = simulate_single_arm(design, MODEL, n_trials=20_000, seed=11)
    dist = MODEL.state_distribution(MODEL.population(severity="mild"))[28]
    p_improved = dist[:4].sum()  # baseline 4: improved = discharged alive
    p_alive = 1 - dist[10]
    for key, p in (("all_improved_by_end", p_improved ** 3), ("no_deaths", p_alive ** 3),
                   ("all_discharged", p_improved ** 3)):
        claim = result.claim(key)
        assert abs(claim.probability - p) <= 4 * np.sqrt(p * (1 - p) / 20_000), key
    assert result.expected["deaths"] == pytest.approx(3 * dist[10], abs=4 * np.sqrt(3 * dist[10] / 20_000))


def test_beijing_design_under_no_effect(examples):
    design = single_arm_design_from_protocol(load_protocol(examples / "covid19-msc-single-arm.yaml"), MODEL)
    result = simulate_single_arm(design, MODEL, n_trials=4000, seed=1)
    d = result.to_dict()
    assert d["n_trials"] == 4000
    assert 0 <= d["probability_all_improved"] <= 0.01
    assert d["probability_most_discharged"] > 0.9  # most patients recover on their own
    assert 0.5 < result.expected["improved"] / 31 < 0.9
    at_least = d["probability_at_least_k_discharged"]
    assert at_least["0"] == 1.0
    assert all(at_least[str(k)] >= at_least[str(k + 1)] for k in range(31))
    json.dumps(d)
    text = str(result)
    for phrase in ("NO treatment effect", "What it means", "randomized control"):
        assert phrase in text


def test_a_real_effect_makes_the_claims_more_likely():
    design = SingleArmDesign({"severe": 8})
    none = simulate_single_arm(design, MODEL, n_trials=4000, seed=3)
    strong = simulate_single_arm(design, MODEL, odds_ratio=3.0, n_trials=4000, seed=3)
    assert strong.claim("all_improved").probability > none.claim("all_improved").probability
    assert strong.expected["deaths"] < none.expected["deaths"]


def test_same_seed_same_result_and_bad_input():
    design = SingleArmDesign({"critical": 4})
    a = simulate_single_arm(design, MODEL, n_trials=3000, seed=5, chunk_size=1000)
    b = simulate_single_arm(design, MODEL, n_trials=3000, seed=5, chunk_size=1000)
    assert a.to_dict() == b.to_dict()
    with pytest.raises(UserError):
        SingleArmDesign({})
    with pytest.raises(UserError, match="odds ratios"):
        simulate_single_arm(design, MODEL, odds_ratio=0)
