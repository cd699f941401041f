"""ClinicalTrials.gov v2 records against hand-checked facts (examples/evidence/registry, invented records)."""

from __future__ import annotations

from equipoise.evidence.ctgov_parser import parse_study, studies_in_json
from equipoise.evidence.registry_record import RegistryRecord
from tests.evidence.registry_support import DATA, EXAMPLES, problems, records


def test_single_study_reads_every_field_in_v2_spelling():
    r = records(EXAMPLES / "NCT04288102.json")["NCT04288102"]
    assert r.registry == "ClinicalTrials.gov"
    assert (r.title or "").startswith("Treatment With Human Umbilical Cord-derived Mesenchymal Stem Cells")
    assert (r.status, r.study_type, r.phases) == ("COMPLETED", "INTERVENTIONAL", ("PHASE2",))
    assert (r.allocation, r.masking, r.intervention_model) == ("RANDOMIZED", "QUADRUPLE", "PARALLEL")
    assert (r.enrollment, r.enrollment_type) == (101, "ACTUAL")
    assert (r.start_date, r.primary_completion_date, r.last_update) == ("2020-03-05", "2020-06-30", "2021-05-12")
    assert r.conditions == ("COVID-19", "Pneumonia, Viral")
    assert r.interventions == ("Biological: UC-MSCs", "Biological: Placebo")
    assert r.countries == ("China",)
    assert [(a.label, a.type, a.kind) for a in r.arms] == [
        ("UC-MSCs", "EXPERIMENTAL", "experimental"), ("Placebo", "PLACEBO_COMPARATOR", "placebo")]
    assert r.has_results is False
    assert "ChiCTR2000031430" in r.secondary_ids
    assert r.sponsor == "Beijing 302 Hospital"
    assert r.summary is not None
    assert r.summary.startswith("Invented example record")
    c = r.classification
    assert (c.randomized, c.controlled, c.control, c.single_arm, c.blinded) == (True, True, "placebo", False, True)


def test_page_of_a_search_reads_every_study():
    found = records(EXAMPLES / "ctgov-msc-covid-search-page.json")
    assert sorted(found) == ["NCT04252118", "NCT04269525", "NCT04273646", "NCT04313322", "NCT04355728",
                             "NCT04371393"]


def test_placebo_arm_typed_experimental_is_still_a_placebo_control():
    r = records(EXAMPLES / "ctgov-msc-covid-search-page.json")["NCT04273646"]
    assert [a.type for a in r.arms] == ["EXPERIMENTAL", "EXPERIMENTAL"]
    assert [a.kind for a in r.arms] == ["experimental", "placebo"]
    assert (r.classification.controlled, r.classification.control) == (True, "placebo")


def test_arm_labelled_standard_of_care_holding_a_placebo_is_a_placebo_control():
    r = records(EXAMPLES / "ctgov-msc-covid-search-page.json")["NCT04371393"]
    assert [(a.type, a.kind) for a in r.arms] == [("EXPERIMENTAL", "experimental"), ("OTHER", "placebo")]


def test_standard_treatment_comparator_is_standard_of_care_and_open_label():
    r = records(EXAMPLES / "ctgov-msc-covid-bulk.zip")["NCT04366063"]
    assert r.arms[1].type == "ACTIVE_COMPARATOR"
    assert r.classification.control == "standard of care"
    assert (r.masking, r.classification.blinded) == ("NONE", False)
    assert r.phases == ("PHASE2", "PHASE3")


def test_non_randomized_with_conventional_treatment_control():
    r = records(EXAMPLES / "ctgov-msc-covid-search-page.json")["NCT04252118"]
    c = r.classification
    assert (r.allocation, c.randomized, c.controlled, c.control, c.design_class) == (
        "NON_RANDOMIZED", False, True, "standard of care", "non-randomized controlled")


def test_single_group_is_single_arm_uncontrolled_not_randomized():
    r = records(EXAMPLES / "ctgov-msc-covid-search-page.json")["NCT04269525"]
    c = r.classification
    assert (r.allocation, r.intervention_model) == ("NA", "SINGLE_GROUP")
    assert (c.single_arm, c.randomized, c.controlled, c.control, c.design) == (True, False, False, "none",
                                                                               "single-arm")


def test_bulk_zip_holds_one_study_per_entry():
    assert sorted(records(EXAMPLES / "ctgov-msc-covid-bulk.zip")) == ["NCT04339660", "NCT04366063", "NCT04390139"]


def test_missing_fields_are_null_not_guessed():
    r = parse_study({"protocolSection": {"identificationModule": {"nctId": "NCT09000009", "briefTitle": "t"}}})
    assert (r.status, r.allocation, r.masking, r.enrollment, r.phases, r.has_results) == (
        None, None, None, None, (), None)
    c = r.classification
    assert (c.randomized, c.controlled, c.blinded, c.single_arm) == (None, None, None, None)


def test_title_speaks_when_the_design_fields_are_silent():
    r = parse_study({"protocolSection": {"identificationModule": {
        "nctId": "NCT09000010", "officialTitle": "A Randomized, Double-blind, Placebo-controlled Trial"}}})
    assert (r.classification.randomized, r.classification.blinded) == (True, True)
    assert "the record's text says randomized (no allocation field)" in r.classification.reasons


def test_malformed_studies_are_reported_with_file_and_id_and_skipped():
    path = DATA / "malformed-page.json"
    assert list(records(path)) == ["NCT09000001"]
    found = {(p.record_id, p.message) for p in problems(path)}
    assert ("NCT09000002", "armGroups must be a list, not str") in found
    assert ("ABC123", "protocolSection.identificationModule.nctId: 'ABC123' is not an NCT number") in found
    assert (None, "no protocolSection (not a ClinicalTrials.gov v2 study record)") in found
    assert (None, "a study must be a JSON object, not str") in found
    assert all(p.source.startswith(str(path)) and "studies[" in p.source for p in problems(path))


def test_truncated_json_is_one_problem():
    found = list(studies_in_json((DATA / "truncated.json").read_bytes(), "truncated.json"))
    assert len(found) == 1
    assert not isinstance(found[0], RegistryRecord)
    assert found[0].message.startswith("not valid JSON")


def test_record_round_trips_through_its_dict():
    r = records(EXAMPLES / "NCT04288102.json")["NCT04288102"]
    assert RegistryRecord.from_dict(r.to_dict()) == r
