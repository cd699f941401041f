import datetime as dt

import pytest

from equipoise.protocol import ArmRole, OutcomeType, RandomizationMethod, Severity, load_protocol, validate_file


@pytest.mark.parametrize("name", ["covid19-msc-single-arm.yaml", "covid19-msc-rct.yaml", "covid19-platform.yaml",
                                  "mesoblast-like.yaml"])
def test_every_example_is_valid(examples, name):
    report = validate_file(examples / name)
    assert report.valid, str(report)
    assert report.errors == []


def test_single_arm_example_is_the_2020_beijing_design(examples):
    p = load_protocol(examples / "covid19-msc-single-arm.yaml")
    assert [a.id for a in p.arms] == ["msc"]
    assert p.randomization is None
    assert p.enrolment.target is not None
    assert p.enrolment.target.total == 31
    assert p.enrolment.target.composition == {"mild": 16, "severe": 8, "critical": 7}
    assert {o.id for o in p.outcomes} == {"ct_improvement", "discharged_day28"}


def test_single_arm_example_warns_that_it_has_no_control(examples):
    report = validate_file(examples / "covid19-msc-single-arm.yaml")
    assert [w.severity for w in report.warnings] == [Severity.WARNING]
    assert "no control group" in report.warnings[0].message


def test_rct_example_matches_the_trial_that_should_have_been_run(examples):
    p = load_protocol(examples / "covid19-msc-rct.yaml")
    assert [(a.id, a.role, a.allocation) for a in p.arms] == [
        ("msc", ArmRole.EXPERIMENTAL, 1.0),
        ("placebo", ArmRole.PLACEBO, 1.0),
    ]
    assert p.trial.blinding.is_blinded
    r = p.randomization
    assert r is not None
    assert r.method is RandomizationMethod.MINIMIZATION
    assert r.minimization is not None
    assert set(r.minimization.weights) == {"severity", "age65", "site"}
    age = r.factor("age65")
    assert age is not None
    assert age.level_of(64) == "under-65"
    assert age.level_of(65) == "65-and-over"
    assert p.analysis is not None
    primary = p.outcome(p.analysis.primary.outcome)
    assert primary is not None
    assert primary.type is OutcomeType.ORDINAL
    assert primary.resolved_scale is not None
    assert primary.resolved_scale.values == list(range(11))
    assert [s.outcome for s in p.analysis.secondary][:2] == ["death_day28", "time_to_discharge"]
    assert p.analysis.looks is not None
    assert p.analysis.looks.information_rates == [0.33, 0.67, 1.0]
    assert p.analysis.looks.efficacy.spending.value == "obf"


def test_platform_arms_in_force_follow_the_amendments(examples):
    p = load_protocol(examples / "covid19-platform.yaml")
    before = p.in_force(dt.date(2020, 4, 1))
    assert [a.id for a in before.arms] == ["usual_care", "dexamethasone", "hydroxychloroquine", "lopinavir"]
    assert [a.allocation for a in before.arms] == [2, 1, 1, 1]
    middle = p.in_force(dt.date(2020, 4, 14))  # the day azithromycin starts
    assert "azithromycin" in [a.id for a in middle.arms]
    assert middle.trial.version == "2.0"
    after = p.in_force(dt.date(2020, 7, 1))
    assert [a.id for a in after.arms] == ["usual_care", "dexamethasone", "lopinavir", "azithromycin"]
    assert after.trial.version == "3.0"


def test_platform_arm_availability_per_site(examples):
    p = load_protocol(examples / "covid19-platform.yaml").in_force(dt.date(2020, 5, 1))
    assert [a.id for a in p.arms_at_site("edinburgh")] == [
        "usual_care", "dexamethasone", "hydroxychloroquine", "azithromycin"
    ]
    assert "lopinavir" in [a.id for a in p.arms_at_site("oxford")]
    unavailable = [s.id for s in p.sites if "lopinavir" not in [a.id for a in p.arms_at_site(s.id)]]
    assert unavailable == ["edinburgh", "cardiff"]


def test_no_protocol_in_force_before_the_first_version(examples):
    p = load_protocol(examples / "covid19-platform.yaml")
    with pytest.raises(ValueError, match="took effect on 2020-03-19"):
        p.in_force(dt.date(2020, 1, 1))
