import random
from collections import Counter

from scipy.stats import chisquare  # type: ignore[import-untyped]

from equipoise.allocate import AllocationRequest, ArmWeight, ReplaySource, SimpleScheme, scheme_from_protocol
from tests.allocate.conftest import PLATFORM_DATES, Runner, platform_patient


def test_simple_randomization_reaches_2_1_1_1_as_recovery_did(platform):
    """5,000 patients at sites offering every arm and without contraindications: counts fit 2:1:1:1."""
    p = platform.in_force(PLATFORM_DATES[0])
    scheme = scheme_from_protocol(p)
    assert isinstance(scheme, SimpleScheme)
    request = AllocationRequest(tuple(scheme.arms), tuple(scheme.arms))
    runner = Runner(seed=20200319)
    counts = Counter(runner.allocate(scheme, request).arm for _ in range(5000))
    observed = [counts[a] for a in ("usual_care", "dexamethasone", "hydroxychloroquine", "lopinavir")]
    test = chisquare(observed, [2000, 1000, 1000, 1000])
    assert test.pvalue > 0.01, (observed, test)
    # the same test rejects a 1:1:1:1 target decisively, so it has the power to tell
    assert chisquare(observed, [1250] * 4).pvalue < 1e-30


def test_patients_with_fewer_open_arms_keep_the_weights_of_the_others(platform):
    p = platform.in_force(PLATFORM_DATES[0])
    scheme = scheme_from_protocol(p)
    all_arms = tuple(scheme.arms)
    request = AllocationRequest((all_arms[0], all_arms[2]), all_arms)
    allocation = scheme.allocate({}, request, ReplaySource([0.5]))
    assert allocation.diagnostics["probabilities"] == {"usual_care": 2 / 3, "hydroxychloroquine": 1 / 3}
    assert allocation.arm == "usual_care"
    assert scheme.allocate({}, request, ReplaySource([0.7])).arm == "hydroxychloroquine"
    assert allocation.state == {}
    assert scheme.state_key(request) == ""


def test_open_arms_are_used_in_protocol_order_whatever_order_the_request_gives():
    a, b = ArmWeight("a", 1), ArmWeight("b", 1)
    scheme = SimpleScheme([a, b])
    forward = scheme.allocate({}, AllocationRequest((a, b), (a, b)), ReplaySource([0.2])).arm
    backward = scheme.allocate({}, AllocationRequest((b, a), (a, b)), ReplaySource([0.2])).arm
    assert forward == backward == "a"


def test_simple_randomization_never_gives_an_arm_the_site_or_patient_cannot_have(platform):
    rng = random.Random(5)
    runner = Runner(seed=6)
    for date in PLATFORM_DATES:
        p = platform.in_force(date)
        for _ in range(300):
            site, values = platform_patient(rng, p)
            allocation = runner.allocate_patient(p, site, values)
            assert allocation.arm in runner.requests[-1].arm_ids
            arm = p.arm(allocation.arm)
            assert arm is not None
            assert not any(values[name] for name in arm.excluded_if)
            assert arm in p.arms_at_site(site)
