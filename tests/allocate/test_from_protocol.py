import pytest

from equipoise.allocate import (
    AllocationError,
    AllocationRequest,
    MinimizationScheme,
    PermutedBlocksScheme,
    ResponseAdaptiveScheme,
    SeededSource,
    arms_for_patient,
    build_request,
    patient_factors,
    scheme_from_parameters,
    scheme_from_protocol,
    stratum_key,
)
from equipoise.protocol import Arm, load_protocol
from tests.allocate.conftest import PLATFORM_DATES, RCT_DATE, RCT_TEXT, json_copy, platform_with, variant
from tests.conftest import EXAMPLES

NO_CONTRAINDICATION = {"long_qt": False, "on_interacting_drug": False, "macrolide_allergy": False}


def ids(arms: list[Arm]) -> list[str]:
    return [a.id for a in arms]


def test_arms_follow_site_availability_contraindications_and_amendments(platform):
    v1, v2, v3 = (platform.in_force(d) for d in PLATFORM_DATES)
    assert ids(arms_for_patient(v1, "oxford", NO_CONTRAINDICATION)) == [
        "usual_care", "dexamethasone", "hydroxychloroquine", "lopinavir"]
    assert ids(arms_for_patient(v1, "edinburgh", NO_CONTRAINDICATION)) == [
        "usual_care", "dexamethasone", "hydroxychloroquine"]
    long_qt = {**NO_CONTRAINDICATION, "long_qt": True}
    assert ids(arms_for_patient(v1, "oxford", long_qt)) == ["usual_care", "dexamethasone", "lopinavir"]
    assert ids(arms_for_patient(v2, "oxford", {**NO_CONTRAINDICATION, "macrolide_allergy": True})) == [
        "usual_care", "dexamethasone", "hydroxychloroquine", "lopinavir"]
    assert "azithromycin" in ids(arms_for_patient(v2, "oxford", NO_CONTRAINDICATION))
    assert ids(arms_for_patient(v3, "cardiff", long_qt)) == ["usual_care", "dexamethasone", "azithromycin"]


def test_an_unanswered_contraindication_or_unknown_site_is_refused(platform):
    v1 = platform.in_force(PLATFORM_DATES[0])
    with pytest.raises(AllocationError, match="'long_qt' of arm 'hydroxychloroquine' has no answer"):
        arms_for_patient(v1, "oxford", {"on_interacting_drug": False})
    with pytest.raises(AllocationError, match="must be yes or no"):
        arms_for_patient(v1, "oxford", {**NO_CONTRAINDICATION, "long_qt": "yes"})
    with pytest.raises(AllocationError, match="unknown site 'paris'"):
        arms_for_patient(v1, "paris", NO_CONTRAINDICATION)
    # Edinburgh does not offer lopinavir, so its contraindication is not asked there
    assert len(arms_for_patient(v1, "edinburgh", {"long_qt": False})) == 3


def test_patient_factors_use_the_cut_points_and_the_site(rct):
    p = rct.in_force(RCT_DATE)
    assert patient_factors(p, {"age": 64, "severity": "mild"}, "pumch") == {
        "severity": "mild", "age65": "under-65", "site": "pumch"}
    assert patient_factors(p, {"age": 65, "severity": "critical"}, "milan-sacco")["age65"] == "65-and-over"
    with pytest.raises(AllocationError, match="factor 'severity' needs a value of 'severity'"):
        patient_factors(p, {"age": 50}, "pumch")
    with pytest.raises(AllocationError, match="'moderate' is not one of its levels"):
        patient_factors(p, {"age": 50, "severity": "moderate"}, "pumch")
    with pytest.raises(AllocationError, match="unknown site"):
        patient_factors(p, {"age": 50, "severity": "mild"}, "nowhere")
    assert stratum_key(p, {"severity": "mild"}) == ""


def test_the_stratum_key_lists_the_stratification_levels_in_protocol_order(platform_blocks):
    p = platform_blocks.in_force(PLATFORM_DATES[0])
    values = {"age": 80, "respiratory_support": "oxygen", **NO_CONTRAINDICATION}
    factors = patient_factors(p, values, "leeds")
    assert factors == {"support": "oxygen", "age70": "70-and-over", "site": "leeds"}
    assert stratum_key(p, factors) == "support=oxygen"
    with pytest.raises(AllocationError, match="'support' has no level"):
        stratum_key(p, {})
    request = build_request(p, "edinburgh", values)
    assert request.stratum == "support=oxygen"
    assert request.arm_ids == ["usual_care", "dexamethasone", "hydroxychloroquine"]
    assert len(request.all_arms) == 4


def test_each_method_of_the_protocol_gets_its_scheme(rct, platform_blocks, platform_minimization, platform_adaptive):
    date = PLATFORM_DATES[0]
    minimization = scheme_from_protocol(rct.in_force(RCT_DATE))
    assert isinstance(minimization, MinimizationScheme)
    assert minimization.factor_weights == {"severity": 2.0, "age65": 1.0, "site": 1.0}
    assert minimization.probability == 0.8
    blocks = scheme_from_protocol(platform_blocks.in_force(date))
    assert isinstance(blocks, PermutedBlocksScheme)
    assert blocks.replicates == [6, 12]
    assert isinstance(scheme_from_protocol(platform_minimization.in_force(date)), MinimizationScheme)
    adaptive = scheme_from_protocol(platform_adaptive.in_force(date))
    assert isinstance(adaptive, ResponseAdaptiveScheme)
    assert (adaptive.control_arm, adaptive.control_share, adaptive.floor, adaptive.burn_in) == (
        "usual_care", 0.35, 0.05, 50)


def test_parameters_are_json_and_rebuild_the_same_scheme(rct, platform, platform_blocks, platform_adaptive):
    schemes = [scheme_from_protocol(rct.in_force(RCT_DATE))] + [
        scheme_from_protocol(p.in_force(d)) for p in (platform, platform_blocks, platform_adaptive)
        for d in PLATFORM_DATES
    ]
    for scheme in schemes:
        parameters = json_copy(scheme.parameters())
        assert parameters == scheme.parameters()
        assert scheme_from_parameters(parameters) == scheme
    with pytest.raises(AllocationError, match="unknown randomization method 'urn'"):
        scheme_from_parameters({"method": "urn", "arms": []})


def test_a_single_arm_trial_has_nothing_to_allocate():
    single = load_protocol(EXAMPLES / "covid19-msc-single-arm.yaml")
    with pytest.raises(AllocationError, match="no randomization section"):
        scheme_from_protocol(single)


def test_stratified_minimization_does_not_count_site_twice():
    without_site = RCT_TEXT.replace("weights: {severity: 2, age65: 1, site: 1}", "weights: {severity: 2, age65: 1}")
    p = variant(without_site, "  minimization:\n", "  stratify_by: [site]\n  minimization:\n")
    scheme = scheme_from_protocol(p.in_force(RCT_DATE))
    assert isinstance(scheme, MinimizationScheme)
    assert scheme.factor_weights == {"severity": 2.0, "age65": 1.0}
    request = build_request(p.in_force(RCT_DATE), "pumch", {"age": 40, "severity": "mild"})
    assert scheme.state_key(request) == "site=pumch|msc:1,placebo:1"
    allocation = scheme.allocate(scheme.initial_state(), request, SeededSource(1))
    assert set(allocation.state["counts"]) == {"severity", "age65"}


def test_two_factors_reading_the_site_are_refused():
    p = platform_with("  minimization: {weights: {support: 1}}\n", "minimization")
    r = p.randomization
    assert r is not None
    centre = r.factors[2].model_copy(update={"id": "centre"})
    twice = r.model_copy(update={"factors": [*r.factors, centre]})
    with pytest.raises(AllocationError, match="site, centre all read the site"):
        scheme_from_protocol(p.model_copy(update={"randomization": twice}))


def test_a_request_from_another_protocol_version_is_refused(platform):
    v1, v2 = platform.in_force(PLATFORM_DATES[0]), platform.in_force(PLATFORM_DATES[1])
    request = build_request(v2, "oxford", NO_CONTRAINDICATION)
    with pytest.raises(AllocationError, match="another protocol version"):
        scheme_from_protocol(v1).allocate({}, request, SeededSource(1))


def test_a_patient_with_one_open_arm_is_not_randomized(platform):
    v3 = platform.in_force(PLATFORM_DATES[2])
    scheme = scheme_from_protocol(v3)
    request = build_request(v3, "oxford", NO_CONTRAINDICATION)
    lonely = AllocationRequest(request.arms[:1], request.all_arms)
    with pytest.raises(AllocationError, match=r"1 arm \(usual_care\) open to this patient"):
        scheme.allocate({}, lonely, SeededSource(1))
