import datetime as dt

from equipoise.protocol import evaluate_eligibility, load_protocol
from tests.conftest import EXAMPLES

RCT = load_protocol(EXAMPLES / "covid19-msc-rct.yaml")
TODAY = dt.date(2020, 4, 1)
ELIGIBLE = {
    "age": 54,
    "sex": "female",
    "severity": "severe",
    "sars_cov_2_pcr": True,
    "symptom_onset": dt.date(2020, 3, 25),
    "who_baseline": 5,
    "pregnant": False,
    "malignancy": False,
    "consent": True,
}


def test_eligible_patient_meets_every_criterion():
    result = evaluate_eligibility(RCT.eligibility, ELIGIBLE, TODAY)
    assert result.eligible
    assert result.failed == ()
    assert result.missing == ()
    assert str(result) == "Eligible: all criteria met."


def test_every_failed_criterion_is_listed_with_the_text_a_coordinator_reads():
    patient = {**ELIGIBLE, "age": 16, "pregnant": True, "symptom_onset": dt.date(2020, 3, 1)}
    result = evaluate_eligibility(RCT.eligibility, patient, TODAY)
    assert not result.eligible
    assert [c.id for c in result.failed] == ["adult", "onset", "pregnancy"]
    reasons = [c.reason for c in result.failed]
    assert reasons[0] == "Aged 18 years or older: not met (age = 16)"
    assert reasons[2] == "Pregnant or breastfeeding: exclusion applies (pregnant = yes)"


def test_missing_values_are_never_counted_as_met():
    patient = {k: v for k, v in ELIGIBLE.items() if k != "consent"}
    result = evaluate_eligibility(RCT.eligibility, patient, TODAY)
    assert not result.eligible
    assert [c.id for c in result.missing] == ["consent"]
    assert result.to_dict()["missing"][0]["met"] is None  # type: ignore[index]


def test_within_days_counts_back_from_the_enrolment_date():
    onset = next(c for c in RCT.eligibility if c.id == "onset")
    for day, expected in [(dt.date(2020, 3, 18), True), (dt.date(2020, 3, 17), False), (dt.date(2020, 4, 2), False)]:
        result = evaluate_eligibility([onset], {"symptom_onset": day}, TODAY)
        assert result.eligible is expected, day


def test_between_is_inclusive():
    hospitalised = next(c for c in RCT.eligibility if c.id == "hospitalised")
    outcomes = {score: evaluate_eligibility([hospitalised], {"who_baseline": score}, TODAY).eligible
                for score in range(11)}
    assert [s for s, ok in outcomes.items() if ok] == [4, 5, 6, 7, 8, 9]
