import random
from collections import Counter

import pytest
from scipy.stats import chisquare

from equipoise.allocate import (
    AllocationError,
    AllocationRequest,
    ArmWeight,
    ReplaySource,
    ResponseAdaptiveScheme,
    scheme_from_protocol,
)
from equipoise.allocate.adaptive import floored
from tests.allocate.conftest import PLATFORM_DATES, Runner, platform_patient

UC, DEX, HCQ, LPV = ArmWeight("uc", 2), ArmWeight("dex", 1), ArmWeight("hcq", 1), ArmWeight("lpv", 1)
ARMS = (UC, DEX, HCQ, LPV)
TABLE = {"uc": 0.2, "dex": 0.6, "hcq": 0.02, "lpv": 0.18}


def test_burn_in_uses_the_fixed_weights_and_the_state_counts_the_patients():
    scheme = ResponseAdaptiveScheme(ARMS, burn_in=2)
    request = AllocationRequest(ARMS, ARMS, adaptive_probabilities=TABLE)
    state = scheme.initial_state()
    phases = []
    for _ in range(3):
        allocation = scheme.allocate(state, request, ReplaySource([0.5]))
        phases.append((allocation.diagnostics["phase"], allocation.diagnostics["probabilities"]))
        state = allocation.state
    assert state == {"patients": 3}
    assert phases[0] == phases[1] == ("burn-in", {"uc": 0.4, "dex": 0.2, "hcq": 0.2, "lpv": 0.2})
    assert phases[2] == ("adaptive", pytest.approx(TABLE))
    assert scheme.state_key(request) == "trial"


def test_the_table_is_restricted_to_the_open_arms_and_renormalised():
    scheme = ResponseAdaptiveScheme(ARMS)
    request = AllocationRequest((UC, DEX, LPV), ARMS, adaptive_probabilities=TABLE)
    allocation = scheme.allocate({"patients": 10}, request, ReplaySource([0.99]))
    assert allocation.diagnostics["probabilities"] == pytest.approx({"uc": 0.2 / 0.98, "dex": 0.6 / 0.98,
                                                                     "lpv": 0.18 / 0.98})
    assert allocation.arm == "lpv"
    assert allocation.diagnostics["table"] == {"uc": 0.2, "dex": 0.6, "lpv": 0.18}


def test_floor_and_fixed_control_share():
    scheme = ResponseAdaptiveScheme(ARMS, floor=0.05, control_arm="uc", control_share=0.3)
    request = AllocationRequest(ARMS, ARMS, adaptive_probabilities=TABLE)
    _, probabilities = scheme.probabilities(request, patients_before=100)
    # control fixed at 0.3; dex, hcq, lpv split 0.7 as 0.6 : 0.02 : 0.18 with hcq raised to the floor
    assert probabilities["uc"] == pytest.approx(0.3)
    assert probabilities["hcq"] == pytest.approx(0.05)
    assert probabilities["dex"] / probabilities["lpv"] == pytest.approx(0.6 / 0.18)
    assert sum(probabilities.values()) == pytest.approx(1)
    # a patient who cannot have the control arm: the share does not apply, all open arms split 1
    without_control = AllocationRequest((DEX, HCQ), ARMS, adaptive_probabilities=TABLE)
    _, probabilities = scheme.probabilities(without_control, patients_before=100)
    assert probabilities == pytest.approx({"dex": 0.95, "hcq": 0.05})


def test_floored_shares():
    assert floored([0.5, 0.5], 1.0, 0.1) == [0.5, 0.5]
    assert floored([0.98, 0.01, 0.01], 1.0, 0.1) == pytest.approx([0.8, 0.1, 0.1])
    assert floored([1, 0, 0, 0], 0.5, 0.2) == pytest.approx([0.125] * 4)  # floors use up the mass
    shares = floored([0.7, 0.25, 0.04, 0.01], 1.0, 0.05)
    assert min(shares) == pytest.approx(0.05)
    assert sum(shares) == pytest.approx(1)
    assert shares[0] / shares[1] == pytest.approx(0.7 / 0.25)


def test_without_a_usable_table_the_fixed_weights_apply():
    scheme = ResponseAdaptiveScheme(ARMS)
    no_table = AllocationRequest(ARMS, ARMS)
    stale = AllocationRequest(ARMS, ARMS, adaptive_probabilities={"uc": 0.5, "dex": 0.5})
    zero = AllocationRequest((HCQ, LPV), ARMS, adaptive_probabilities={"hcq": 0.0, "lpv": 0.0})
    assert scheme.probabilities(no_table, 5) == ("no-table", {"uc": 0.4, "dex": 0.2, "hcq": 0.2, "lpv": 0.2})
    assert scheme.probabilities(stale, 5)[0] == "incomplete-table"
    assert scheme.probabilities(zero, 5) == ("adaptive", {"hcq": 0.5, "lpv": 0.5})


def test_allocations_follow_the_table_on_the_platform(platform_adaptive):
    """After burn-in, 4,000 patients at Oxford without contraindications match the adapted probabilities."""
    p = platform_adaptive.in_force(PLATFORM_DATES[0])
    assert isinstance(scheme_from_protocol(p), ResponseAdaptiveScheme)
    table = {"usual_care": 0.1, "dexamethasone": 0.7, "hydroxychloroquine": 0.01, "lopinavir": 0.19}
    runner = Runner(seed=41)
    values = {"long_qt": False, "on_interacting_drug": False, "respiratory_support": "none", "age": 50}
    first = [runner.allocate_patient(p, "oxford", values, table) for _ in range(4050)]
    assert {a.diagnostics["phase"] for a in first[:50]} == {"burn-in"}
    adapted = first[50:]
    probabilities = adapted[0].diagnostics["probabilities"]
    assert probabilities["usual_care"] == pytest.approx(0.35)
    assert probabilities["hydroxychloroquine"] == pytest.approx(0.05)
    counts = Counter(a.arm for a in adapted)
    arms = list(probabilities)
    assert chisquare([counts[a] for a in arms], [4000 * probabilities[a] for a in arms]).pvalue > 0.01


def test_adaptive_never_allocates_an_arm_the_patient_cannot_have(platform_adaptive):
    rng = random.Random(51)
    runner = Runner(seed=52)
    table = {"usual_care": 0.25, "dexamethasone": 0.25, "hydroxychloroquine": 0.2, "lopinavir": 0.2,
             "azithromycin": 0.1}
    for date in PLATFORM_DATES:
        p = platform_adaptive.in_force(date)
        for _ in range(200):
            site, values = platform_patient(rng, p)
            allocation = runner.allocate_patient(p, site, values, table)
            assert allocation.arm in runner.requests[-1].arm_ids


def test_adaptive_settings_are_checked():
    with pytest.raises(AllocationError, match="needs a control arm"):
        ResponseAdaptiveScheme(ARMS, control_share=0.3)
    with pytest.raises(AllocationError, match="not in force"):
        ResponseAdaptiveScheme(ARMS, control_arm="placebo")
    with pytest.raises(AllocationError, match="floor"):
        ResponseAdaptiveScheme(ARMS, floor=1.0)


def test_a_ceiling_caps_the_table_and_the_others_share_the_rest():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from equipoise.allocate.adaptive import bounded

    assert bounded([0.9, 0.05, 0.05], 1.0, 0.1, 0.6) == pytest.approx([0.6, 0.2, 0.2], abs=1e-12)
    assert bounded([0.98, 0.01, 0.01], 1.0, 0.15, 0.7) == pytest.approx([0.7, 0.15, 0.15], abs=1e-12)
    assert bounded([0.5, 0.3, 0.2], 1.0, 0.1, 0.9) == pytest.approx([0.5, 0.3, 0.2], abs=1e-12)  # inside: as is
    assert bounded([1.0, 0.0, 0.0], 1.0, 0.1, 0.6) == pytest.approx([0.6, 0.2, 0.2], abs=1e-12)
    assert bounded([0.7, 0.3], 1.0, 0.0, 0.4) == [0.5, 0.5]  # two open arms under a cap of 0.4: equal

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=6), st.floats(0.0, 0.15), st.floats(0.35, 1.0))
    def check(raw: list[float], floor: float, ceiling: float) -> None:
        shares = bounded(raw, 1.0, floor, ceiling)
        assert sum(shares) == pytest.approx(1.0, abs=1e-9)
        if floor * len(raw) < 1 < ceiling * len(raw) and sum(raw) > 0:
            assert all(floor - 1e-9 <= s <= ceiling + 1e-9 for s in shares)
        if ceiling == 1.0 and sum(raw) > 0:
            assert shares == pytest.approx(floored(raw, 1.0, floor), abs=1e-9)  # no cap: the floor rule

    check()


def test_the_ceiling_is_a_scheme_setting_kept_in_the_parameters():
    from equipoise.allocate import scheme_from_parameters

    scheme = ResponseAdaptiveScheme(ARMS, burn_in=0, floor=0.05, ceiling=0.5)
    assert scheme.parameters()["ceiling"] == 0.5
    assert "ceiling" not in ResponseAdaptiveScheme(ARMS, floor=0.05).parameters()  # old allocations unchanged
    assert scheme_from_parameters(scheme.parameters()) == scheme
    request = AllocationRequest(arms=ARMS, all_arms=ARMS, adaptive_probabilities={
        "uc": 0.05, "dex": 0.9, "hcq": 0.03, "lpv": 0.02})
    _phase, probabilities = scheme.probabilities(request, 10)
    assert probabilities["dex"] == pytest.approx(0.5)
    assert sum(probabilities.values()) == pytest.approx(1.0)
    with pytest.raises(AllocationError, match="ceiling"):
        ResponseAdaptiveScheme(ARMS, floor=0.2, ceiling=0.1)


def test_the_protocol_checks_the_ceiling_and_the_platform_uses_it():
    from equipoise.protocol import validate_text
    from tests.allocate.conftest import PLATFORM_FACTORS, PLATFORM_TEXT, platform_with

    def problems(settings: str) -> list[str]:
        text = PLATFORM_TEXT.replace("randomization:\n  method: simple\n",
                                     PLATFORM_FACTORS.format(method="response-adaptive") + settings, 1)
        return [str(p) for p in validate_text(text, "variant.yaml").errors]

    assert any("must be above the floor" in p for p in problems("  adaptive: {floor: 0.2, ceiling: 0.15}\n"))
    assert any("leaves probability unallocated" in p for p in problems("  adaptive: {ceiling: 0.2}\n"))
    capped = platform_with("  adaptive: {floor: 0.05, ceiling: 0.6}\n", "response-adaptive")
    scheme = scheme_from_protocol(capped.in_force(PLATFORM_DATES[-1]))
    assert scheme.parameters()["ceiling"] == 0.6
