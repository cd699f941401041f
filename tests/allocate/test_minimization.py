import math
import random
from collections import Counter
from typing import Any

import pytest
from scipy.stats import binomtest, chisquare  # type: ignore[import-untyped]

from equipoise.allocate import (
    AllocationError,
    AllocationRequest,
    ArmWeight,
    MinimizationScheme,
    ReplaySource,
    Scheme,
    SeededSource,
    SimpleScheme,
    build_request,
    scheme_from_protocol,
)
from equipoise.allocate.minimization import imbalance
from tests.allocate.conftest import PLATFORM_DATES, RCT_DATE, Runner, platform_patient, rct_patient

A, B, C = ArmWeight("A", 1), ArmWeight("B", 1), ArmWeight("C", 1)


def test_a_hand_worked_two_arm_example():
    """Male, older patient; earlier patients: males A 5 / B 3, older A 2 / B 4; weights sex 1, age 2.

    G_A = |6-3| + 2·|3-4| = 5 and G_B = |5-4| + 2·|2-5| = 7, so A minimizes and gets p = 0.8.
    """
    scheme = MinimizationScheme([A, B], {"sex": 1, "age": 2}, probability=0.8)
    male = {"A": 5, "B": 3}
    state = {"patients": 14, "counts": {"sex": {"male": male}, "age": {"old": {"A": 2, "B": 4}}}}
    request = AllocationRequest((A, B), (A, B), {"sex": "male", "age": "old"})
    allocation = scheme.allocate(state, request, ReplaySource([0.79]))
    assert allocation.diagnostics["imbalance"] == {"A": 5.0, "B": 7.0}
    assert allocation.diagnostics["minimizing"] == ["A"]
    assert allocation.diagnostics["probabilities"] == pytest.approx({"A": 0.8, "B": 0.2})
    assert allocation.arm == "A"
    assert allocation.state["counts"]["sex"]["male"] == {"A": 6, "B": 3}
    assert allocation.state["patients"] == 15
    # the random element: a draw at or above p gives the other arm
    assert scheme.allocate(state, request, ReplaySource([0.8])).arm == "B"
    assert male == {"A": 5, "B": 3}  # the caller's state is untouched


def test_variance_and_sd_criteria_on_three_arms():
    """Counts 3, 1, 2: adding to B gives (3, 2, 2), variance 1/3, the smallest; C gives 4/3, A gives 7/3."""
    assert imbalance([4, 1, 2], "variance") == pytest.approx(7 / 3)
    assert imbalance([3, 2, 2], "variance") == pytest.approx(1 / 3)
    assert imbalance([3, 1, 3], "sd") == pytest.approx(math.sqrt(4 / 3))
    assert imbalance([3, 1, 3], "range") == 2
    for measure in ("variance", "sd"):
        scheme = MinimizationScheme([A, B, C], {"f": 1}, probability=0.9, imbalance=measure)
        state = {"patients": 6, "counts": {"f": {"x": {"A": 3, "B": 1, "C": 2}}}}
        allocation = scheme.allocate(state, AllocationRequest((A, B, C), (A, B, C), {"f": "x"}), ReplaySource([0.5]))
        assert allocation.diagnostics["minimizing"] == ["B"]
        assert allocation.diagnostics["probabilities"] == pytest.approx({"A": 0.05, "B": 0.9, "C": 0.05})


def test_ties_are_broken_at_random_and_the_first_patient_is_simple_randomization():
    scheme = MinimizationScheme([A, B, C], {"f": 1}, probability=0.8)
    request = AllocationRequest((A, B, C), (A, B, C), {"f": "x"})
    first = scheme.allocate(scheme.initial_state(), request, ReplaySource([0.5]))
    assert first.diagnostics["first_patient"]
    assert first.diagnostics["probabilities"] == pytest.approx({"A": 1 / 3, "B": 1 / 3, "C": 1 / 3})
    # after one patient in B, A and C tie for the minimum and share p
    state = {"patients": 1, "counts": {"f": {"x": {"B": 1}}}}
    tie = scheme.allocate(state, request, ReplaySource([0.5]))
    assert tie.diagnostics["minimizing"] == ["A", "C"]
    assert tie.diagnostics["probabilities"] == pytest.approx({"A": 0.4, "B": 0.2, "C": 0.4})
    arms = {scheme.allocate(state, request, ReplaySource([u / 10])).arm for u in range(10)}
    assert arms == {"A", "B", "C"}


def marginal_imbalance(runner: Runner) -> int:
    """Sum over factors and levels of |n_msc - n_placebo| (the imbalance minimization is meant to keep small)."""
    counts: Counter[tuple[str, str]] = Counter()
    for request, allocation in zip(runner.requests, runner.allocations, strict=True):
        for factor, level in request.factors.items():
            counts[(factor, level)] += 1 if allocation.arm == "msc" else -1
    return sum(abs(v) for v in counts.values())


def test_minimization_keeps_marginal_imbalance_far_below_simple_randomization(rct):
    """The MSC trial (360 patients, 3 factors): 10 trials each way with the same patients and seeds."""
    p = rct.in_force(RCT_DATE)
    minimization = scheme_from_protocol(p)
    simple = SimpleScheme(minimization.arms)
    totals: dict[str, list[int]] = {"minimization": [], "simple": []}
    for replicate in range(10):
        rng = random.Random(replicate)
        patients = [rct_patient(rng, p) for _ in range(360)]
        for name, scheme in (("minimization", minimization), ("simple", simple)):
            runner = Runner(seed=100 + replicate)
            for site, values in patients:
                runner.allocate(scheme, build_request(p, site, values))
            totals[name].append(marginal_imbalance(runner))
    mean_min = sum(totals["minimization"]) / 10
    mean_simple = sum(totals["simple"]) / 10
    assert mean_min < mean_simple / 4, totals
    assert max(totals["minimization"]) < min(totals["simple"]), totals


def test_the_minimizing_arm_is_chosen_with_probability_p(rct):
    """Over 2,000 allocations, the share going to a unique minimizing arm is consistent with p = 0.8."""
    p = rct.in_force(RCT_DATE)
    scheme = scheme_from_protocol(p)
    rng = random.Random(8)
    runner = Runner(seed=9)
    hits = trials = 0
    for _ in range(2000):
        allocation = runner.allocate(scheme, build_request(p, *rct_patient(rng, p)))
        minimizing = allocation.diagnostics["minimizing"]
        if len(minimizing) == 1:
            trials += 1
            hits += allocation.arm == minimizing[0]
            assert allocation.diagnostics["probabilities"][minimizing[0]] == pytest.approx(0.8)
    assert trials > 1000
    test = binomtest(hits, trials, 0.8)
    assert test.pvalue > 0.01, (hits, trials)
    assert trials - hits > 0  # p < 1: some patients went against the minimum


def exact_arm_probabilities(scheme: Scheme, requests: list[AllocationRequest]) -> list[dict[str, float]]:
    """P(patient i gets each arm), unconditionally, by walking every branch of the allocation tree."""
    result: list[dict[str, float]] = [{} for _ in requests]

    def walk(state: dict[str, Any], i: int, weight: float) -> None:
        if i == len(requests):
            return
        probe = scheme.allocate(state, requests[i], ReplaySource([0.0]))
        units = probe.diagnostics.get("unit_probabilities") or probe.diagnostics["probabilities"]
        below = 0.0
        total = sum(units.values())
        for unit, q in units.items():
            if q > 0:
                allocation = scheme.allocate(state, requests[i], ReplaySource([(below + q / 2) / total]))
                assert allocation.diagnostics.get("unit", allocation.arm) == unit
                result[i][allocation.arm] = result[i].get(allocation.arm, 0.0) + weight * q
                walk(allocation.state, i + 1, weight * q)
            below += q

    walk(scheme.initial_state(), 0, 1.0)
    return result


def test_dividing_counts_by_the_ratio_does_not_preserve_2_to_1_but_the_expansion_does():
    """Kuznetsova & Tymofyeyev's point, computed exactly for a 2:1 trial with p = 0.8 and five patients.

    Counts divided by the ratio send a second patient with the first one's levels to the larger arm with
    probability 2/3 · 0.2 + 1/3 · 0.8 = 0.4, not 2/3;
    balancing equal virtual arms keeps 2/3 for every patient, whatever their levels.
    """
    big, small = ArmWeight("big", 2), ArmWeight("small", 1)
    levels = [{"f": "x", "g": "u"}, {"f": "x", "g": "u"}, {"f": "y", "g": "u"}, {"f": "x", "g": "v"},
              {"f": "y", "g": "v"}]
    requests = [AllocationRequest((big, small), (big, small), lv) for lv in levels]
    scaled = MinimizationScheme([big, small], {"f": 1, "g": 1}, 0.8, ratio_preserving=False)
    expanded = MinimizationScheme([big, small], {"f": 1, "g": 1}, 0.8, ratio_preserving=True)
    naive = exact_arm_probabilities(scaled, requests)
    preserved = exact_arm_probabilities(expanded, requests)
    assert naive[0]["big"] == pytest.approx(2 / 3)
    assert naive[1]["big"] == pytest.approx(0.4)
    assert max(abs(step["big"] - 2 / 3) for step in naive[2:]) > 0.01
    for step in preserved:
        assert step["big"] == pytest.approx(2 / 3, abs=1e-12)
        assert step["small"] == pytest.approx(1 / 3, abs=1e-12)


def test_ratio_preserving_minimization_reaches_2_1_1_1_on_the_platform(platform_minimization):
    p = platform_minimization.in_force(PLATFORM_DATES[0])
    scheme = scheme_from_protocol(p)
    request_arms = tuple(scheme.arms)
    rng = random.Random(21)
    runner = Runner(seed=22)
    for _ in range(3000):
        site, values = platform_patient(rng, p)
        factors = {**build_request(p, "oxford", values).factors, "site": site}
        runner.allocate(scheme, AllocationRequest(request_arms, request_arms, factors))
    counts = Counter(a.arm for a in runner.allocations)
    observed = [counts[a.id] for a in request_arms]
    assert chisquare(observed, [1200, 600, 600, 600]).pvalue > 0.01, observed
    # minimization keeps it much closer than chance would: within 2% of the target
    assert all(abs(o - e) < 0.02 * 3000 for o, e in zip(observed, [1200, 600, 600, 600], strict=True)), observed


def test_minimization_never_allocates_an_arm_the_patient_cannot_have_and_restarts_at_an_amendment(
    platform_minimization,
):
    rng = random.Random(31)
    runner = Runner(seed=32)
    for date in PLATFORM_DATES:
        p = platform_minimization.in_force(date)
        for _ in range(200):
            site, values = platform_patient(rng, p)
            allocation = runner.allocate_patient(p, site, values)
            assert allocation.arm in runner.requests[-1].arm_ids
            assert set(allocation.diagnostics["probabilities"]) == set(runner.requests[-1].arm_ids)
    assert len(runner.states) == 3  # one counting period per set of arms in force
    assert sorted(s["patients"] for s in runner.states.values()) == [200, 200, 200]


def test_minimization_settings_are_checked():
    with pytest.raises(AllocationError, match="at least one factor"):
        MinimizationScheme([A, B], {})
    with pytest.raises(AllocationError, match="probability"):
        MinimizationScheme([A, B], {"f": 1}, probability=0)
    with pytest.raises(AllocationError, match="imbalance"):
        MinimizationScheme([A, B], {"f": 1}, imbalance="mad")
    with pytest.raises(AllocationError, match="whole-number ratio"):
        MinimizationScheme([ArmWeight("a", math.pi), B], {"f": 1})
    scheme = MinimizationScheme([A, B], {"f": 1})
    with pytest.raises(AllocationError, match="level of f"):
        scheme.allocate({}, AllocationRequest((A, B), (A, B), {"g": "x"}), SeededSource(1))
