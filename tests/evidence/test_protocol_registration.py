"""A protocol exported as a ClinicalTrials.gov v2 registration record imports back with the same design."""

from __future__ import annotations

import json

import pytest

from equipoise.evidence.ctgov_parser import parse_study
from equipoise.evidence.protocol_registration import protocol_classification, registration_record
from equipoise.protocol import InterventionType, load_protocol
from tests.evidence.registry_support import ROOT

PROTOCOLS = ["covid19-msc-rct.yaml", "covid19-msc-single-arm.yaml", "covid19-platform.yaml"]


@pytest.mark.parametrize("name", PROTOCOLS)
def test_round_trip_keeps_the_design_classification(name):
    protocol = load_protocol(ROOT / "examples" / name)
    record = parse_study(registration_record(protocol, nct_id="NCT09999999"))
    expected = protocol_classification(protocol)
    got = record.classification
    assert (got.randomized, got.controlled, got.control, got.control_kinds, got.single_arm, got.blinded,
            got.design) == (expected.randomized, expected.controlled, expected.control, expected.control_kinds,
                            expected.single_arm, expected.blinded, expected.design)
    assert got.design_flags == ()
    assert record.enrollment == protocol.enrolment.target.total  # type: ignore[union-attr]
    assert record.title == protocol.trial.title


def test_rct_example_facts():
    protocol = load_protocol(ROOT / "examples" / "covid19-msc-rct.yaml")
    record = parse_study(registration_record(protocol))
    assert record.id == "NCT00000000"  # the protocol's own ClinicalTrials.gov id
    assert (record.allocation, record.masking, record.intervention_model, record.phases) == (
        "RANDOMIZED", "DOUBLE", "PARALLEL", ("PHASE2", "PHASE3"))
    assert record.classification.control == "placebo"
    assert record.countries == ("China", "Italy", "United States")


def test_platform_usual_care_arm_is_standard_of_care():
    protocol = load_protocol(ROOT / "examples" / "covid19-platform.yaml")
    record = parse_study(registration_record(protocol))
    assert record.id == "NCT00000001"
    assert "ISRCTN00000000" in record.secondary_ids
    assert record.classification.control == "standard of care"
    assert (record.masking, record.classification.blinded) == ("NONE", False)


def test_cli_exports_and_imports_back(run_cli, tmp_path):
    out = tmp_path / "registration.json"
    exported = run_cli("protocol", "registration", ROOT / "examples" / "covid19-msc-single-arm.yaml",
                       "--nct-id", "NCT09999998", "--output", out)
    assert exported.code == 0, exported.stderr
    assert json.loads(out.read_text())["protocolSection"]["designModule"]["designInfo"]["allocation"] == "NA"
    imported = run_cli("evidence", "import", out, "--store", tmp_path / "e.duckdb", "--json")
    assert json.loads(imported.stdout)["records_in_store"] == 1
    shown = json.loads(run_cli("evidence", "show", "NCT09999998", "--store", tmp_path / "e.duckdb", "--json").stdout)
    assert (shown["single_arm"], shown["randomized"], shown["controlled"], shown["control"]) == (
        True, False, False, "none")


def test_bad_nct_id_exits_2(run_cli):
    result = run_cli("protocol", "registration", ROOT / "examples" / "covid19-msc-rct.yaml", "--nct-id", "X1")
    assert result.code == 2
    assert "--nct-id" in result.stderr


def test_conditions_and_intervention_types_are_registered():
    """The trial's conditions become the record's conditions; each arm's intervention type its intervention's type
    (the API's enum; "Biological: ..." in the arm's intervention names, as ClinicalTrials.gov writes them)."""
    protocol = load_protocol(ROOT / "examples" / "covid19-msc-rct.yaml")
    study = registration_record(protocol)
    interventions = study["protocolSection"]["armsInterventionsModule"]["interventions"]
    assert [i["type"] for i in interventions] == ["BIOLOGICAL", "OTHER"]
    record = parse_study(study)
    assert record.conditions == ("COVID-19",)
    assert record.interventions == tuple(f"{kind}: {arm.name}" for kind, arm in zip(("Biological", "Other"),
                                                                                    protocol.arms, strict=True))


def test_an_arm_without_an_intervention_type_registers_other():
    protocol = load_protocol(ROOT / "examples" / "covid19-msc-rct.yaml")
    arms = [arm.model_copy(update={"intervention_type": None}) for arm in protocol.arms]
    arms[0] = arms[0].model_copy(update={"intervention_type": InterventionType.DIETARY_SUPPLEMENT})
    study = registration_record(protocol.model_copy(update={"arms": arms}))
    module = study["protocolSection"]["armsInterventionsModule"]
    assert [i["type"] for i in module["interventions"]] == ["DIETARY_SUPPLEMENT", "OTHER"]
    assert module["armGroups"][0]["interventionNames"][0].startswith("Dietary Supplement: ")
