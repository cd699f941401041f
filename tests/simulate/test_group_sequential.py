"""Two-arm group-sequential simulation against rpact 3.3.4 getSimulationRates/Means/Survival (fixtures from
tests/reference/simulate_rpact.R): rejection and futility probabilities per look and expected sample sizes
agree within Monte Carlo error (3.5 combined standard errors)."""

import math
from typing import Any

import numpy as np
import pytest

from equipoise.errors import UserError
from equipoise.simulate.endpoints import (
    BinaryEndpoint,
    Endpoint,
    NormalEndpoint,
    OrdinalEndpoint,
    SurvivalEndpoint,
    po_treatment_distribution,
)
from equipoise.simulate.generators import exponential
from equipoise.simulate.group_sequential import SequentialPlan, simulate_group_sequential

from .conftest import load_fixture

N_FAST = 40_000
N_SURVIVAL = 4_000


def plan_of(case: dict[str, Any]) -> SequentialPlan:
    d = case["design"]
    return SequentialPlan(tuple(d["criticalValues"]),
                          None if d["futilityBounds"] is None else tuple(d["futilityBounds"]), alpha=d["alpha"])


def close(ours: float, theirs: float, n_ours: int, n_theirs: int, what: str) -> None:
    """|p - q| within 3.5 combined binomial SEs (a floor of 1 / n for probabilities near 0)."""
    p = (ours * n_ours + theirs * n_theirs) / (n_ours + n_theirs)
    se = math.sqrt(max(p * (1 - p), 1 / n_ours) * (1 / n_ours + 1 / n_theirs))
    assert abs(ours - theirs) <= 3.5 * se, f"{what}: ours {ours:.5f} vs rpact {theirs:.5f} (SE {se:.5f})"


def endpoint_of(case: dict[str, Any], j: int) -> tuple[Endpoint, int]:
    if case["kind"] == "rates":
        return BinaryEndpoint(case["pi_control"], case["pi_treatment"][j], tuple(case["planned_subjects"]),
                              higher_is_better=case["direction_upper"]), N_FAST
    if case["kind"] == "means":
        return NormalEndpoint(case["alternative"][j], case["sd"], tuple(case["planned_subjects"])), N_FAST
    return SurvivalEndpoint(exponential(case["lambda_control"]), case["hazard_ratio"][j],
                            tuple(case["planned_events"]), case["max_subjects"], case["accrual_time"],
                            case["dropout_rate"], case["dropout_time"]), N_SURVIVAL


CASES = [(name, j) for name, n_alt in [("rates_of3", 2), ("rates_asof_futility", 2), ("means_of3", 2),
                                      ("means_asp4_futility", 2), ("survival_asof3", 2),
                                      ("survival_asp2_dropout", 2)] for j in range(n_alt)]


@pytest.mark.parametrize(("name", "j"), CASES, ids=[f"{n}-{j}" for n, j in CASES])
def test_agrees_with_rpact(rpact_cases, name, j):
    case = rpact_cases[name]
    sim = case["simulation"]
    endpoint, n = endpoint_of(case, j)
    oc = simulate_group_sequential(endpoint, plan_of(case), null=False, n_trials=n, seed=1000 + j)
    m = sim["iterations"]
    close(oc.rejection_probability, sim["overallReject"][j], n, m, "overall rejection")
    for k, theirs in enumerate(sim["rejectPerStage"][j]):
        close(oc.efficacy_by_look[k], theirs, n, m, f"efficacy at look {k + 1}")
    for k, theirs in enumerate(np.atleast_1d(sim["futilityPerStage"][j])):
        close(oc.futility_by_look[k], theirs, n, m, f"futility at look {k + 1}")
    # expected sample size: SE from our own spread (rpact's is of the same size)
    tol = 3.5 * oc.sd_n * math.sqrt(1 / n + 1 / m) + 1e-9
    assert abs(oc.expected_n - sim["expectedNumberOfSubjects"][j]) <= max(tol, 0.5)
    if case["kind"] == "survival":
        assert oc.expected_events is not None
        planned = case["planned_events"]
        spread = np.sqrt(sum(p * (planned[-1] - e) ** 2 for p, e in zip(oc.stop_probability_by_look, planned,
                                                                          strict=True)))
        assert abs(oc.expected_events - sim["expectedNumberOfEvents"][j]) <= 3.5 * spread * math.sqrt(1 / n + 1 / m) + 1


def test_ordinal_score_statistic_is_the_wilcoxon_z_of_r():
    class Fixed:
        """A generator that returns the fixture's counts instead of drawing them."""

        def __init__(self, counts: list[np.ndarray]) -> None:
            self.counts = counts

        def multinomial(self, n: int, p: np.ndarray, size: int) -> np.ndarray:
            return np.tile(self.counts.pop(0), (size, 1))

    for case in load_fixture("simulate_ordinal.json")["cases"]:
        t, c = np.array(case["treatment"]), np.array(case["control"])
        endpoint = OrdinalEndpoint(tuple(c / c.sum()), 1.0, (float(t.sum() + c.sum()),), ratio=t.sum() / c.sum())
        data = endpoint.looks(1, Fixed([t, c]))  # type: ignore[arg-type]
        assert data.z[0, 0] == pytest.approx(case["wilcoxon_z"], rel=1e-9)


def test_ordinal_power_matches_whiteheads_example():
    """design-anchors §3.6: pC = (.2, .5, .2, .1), OR 2.5, 65 per arm; Monte Carlo Mann-Whitney power 0.7802
    (20,000 reps; Whitehead's asymptotic formula gives 0.7914)."""
    plan = SequentialPlan((1.959963984540054,), alpha=0.025)
    endpoint = OrdinalEndpoint((0.2, 0.5, 0.2, 0.1), 2.5, (130.0,))
    oc = simulate_group_sequential(endpoint, plan, n_trials=20_000, seed=3)
    close(oc.rejection_probability, 0.7802, 20_000, 20_000, "ordinal power")
    assert oc.bias == pytest.approx(0, abs=0.1)  # the one-step estimate of log OR 0.916
    assert 0.9 <= oc.coverage <= 0.97


def test_po_treatment_distribution():
    got = po_treatment_distribution(np.array([0.2, 0.5, 0.2, 0.1]), 2.5)
    assert got == pytest.approx([0.3846, 0.4690, 0.1038, 0.0426], abs=1e-4)  # design-anchors §3.6


def test_fixed_design_type_one_error_and_summaries():
    plan = SequentialPlan((1.959963984540054,), alpha=0.025)
    oc = simulate_group_sequential(NormalEndpoint(0.0, 1.0, (200.0,)), plan, n_trials=40_000, seed=9)
    assert oc.null
    assert abs(oc.rejection_probability - 0.025) <= 3.5 * oc.mc_se
    d = oc.to_dict()
    for key in ("n_trials", "rejection_probability", "mc_se", "expected_n", "stop_probability_by_look"):
        assert key in d
    assert d["type_i_error"] == d["rejection_probability"]
    assert d["n_distribution"] == {"200": 1.0}
    assert abs(oc.coverage - 0.95) < 0.01
    assert "type I error" in str(oc)


def test_non_binding_futility_type_one_error_ignores_futility(rpact_cases):
    case = rpact_cases["means_asp4_futility"]
    oc = simulate_group_sequential(NormalEndpoint(0.0, 10, tuple(case["planned_subjects"])), plan_of(case),
                                   n_trials=40_000, seed=2)
    assert oc.rejection_probability == oc.rejection_probability_futility_ignored
    assert abs(oc.rejection_probability - 0.025) <= 3.5 * oc.mc_se
    assert oc.rejection_probability_futility_obeyed < oc.rejection_probability


def test_bad_plans_are_user_errors():
    with pytest.raises(UserError):
        SequentialPlan(())
    with pytest.raises(UserError, match="futility"):
        SequentialPlan((2.0, 2.0, 2.0), (0.0,))
    with pytest.raises(UserError, match="increase"):
        BinaryEndpoint(0.2, 0.2, (100.0, 50.0)).looks(1, np.random.default_rng(1))
