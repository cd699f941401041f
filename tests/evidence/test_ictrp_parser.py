"""WHO ICTRP CSV and XML exports against hand-checked facts, and the free-text fields read one by one."""

from __future__ import annotations

import pytest

from equipoise.evidence import ictrp_free_text as free
from tests.evidence.registry_support import DATA, EXAMPLES, problems, records


def test_chictr_row_reads_free_text_design_size_and_arms():
    r = records(EXAMPLES / "ictrp-msc-covid.csv")["ChiCTR2000029990"]
    assert (r.registry, r.source_format) == ("ChiCTR", "ictrp")
    assert (r.allocation, r.masking, r.intervention_model) == ("RANDOMIZED", None, "PARALLEL")
    assert (r.enrollment, r.enrollment_type) == (120, "ESTIMATED")
    assert r.phases == ("EARLY_PHASE1",)
    assert (r.status, r.start_date, r.registration_date, r.last_update) == (
        "RECRUITING", "2020-01-23", "2020-02-18", "2026-11-30")
    assert [(a.label, a.kind) for a in r.arms] == [("Experimental group", "experimental"),
                                                   ("Control group", "placebo")]
    assert r.classification.blinded is None
    assert "study design 'Randomized parallel controlled trial': masking not stated" in r.parse_notes
    assert r.summary is not None
    assert r.summary.startswith("Invented example record")


def test_chictr_non_randomized_conventional_control_and_unreadable_phase():
    r = records(EXAMPLES / "ictrp-msc-covid.csv")["ChiCTR2000029606"]
    c = r.classification
    assert (r.allocation, c.randomized, c.control) == ("NON_RANDOMIZED", False, "standard of care")
    assert r.phases == ()
    assert "phase 'New Treatment Measure Clinical Study' not understood" in r.parse_notes
    assert (r.status, r.status_text) == (None, "Not Recruiting")
    assert r.enrollment == 63


def test_chictr_single_arm_case_series():
    r = records(EXAMPLES / "ictrp-msc-covid.csv")["ChiCTR2000030088"]
    assert (r.allocation, r.intervention_model, r.enrollment) == ("NA", "SINGLE_GROUP", 40)
    assert (r.classification.single_arm, r.classification.controlled) == (True, False)
    assert r.phases == ("PHASE1", "PHASE2")
    assert r.status == "NOT_YET_RECRUITING"


def test_irct_row():
    r = records(EXAMPLES / "ictrp-msc-covid.csv")["IRCT20200621047859N4"]
    assert (r.registry, r.allocation, r.masking, r.intervention_model) == ("IRCT", "RANDOMIZED", "NONE", "PARALLEL")
    assert r.countries == ("Iran",)
    assert r.classification.control == "standard of care"
    assert r.has_results is True


def test_nct_row_through_ictrp_infers_arms_from_interventions():
    r = records(EXAMPLES / "ictrp-msc-covid.csv")["NCT04392778"]
    assert (r.registry, r.allocation, r.masking, r.intervention_model) == (
        "ClinicalTrials.gov", "RANDOMIZED", "TRIPLE", "PARALLEL")
    assert r.start_date == "2020-04-07"
    assert r.classification.control == "placebo"
    assert "arms inferred from the interventions list (ICTRP gives no arms for this registry)" in r.parse_notes


def test_secondary_id_is_read():
    assert records(EXAMPLES / "ictrp-msc-covid.csv")["ChiCTR2000031430"].secondary_ids == ("NCT04288102",)


def test_xml_export():
    found = records(EXAMPLES / "ictrp-msc-covid.xml")
    assert sorted(found) == ["ChiCTR2000030116", "ChiCTR2000030300", "EUCTR2020-002772-12-ES", "ISRCTN17571891"]
    eu = found["EUCTR2020-002772-12-ES"]
    assert (eu.registry, eu.allocation, eu.masking, eu.phases) == ("EU CTR", "RANDOMIZED", "DOUBLE", ("PHASE2",))
    assert eu.classification.control == "placebo"
    isrctn = found["ISRCTN17571891"]
    assert (isrctn.allocation, isrctn.masking, isrctn.classification.control) == ("RANDOMIZED", "DOUBLE", "placebo")
    parallel = found["ChiCTR2000030116"]
    assert (parallel.allocation, parallel.intervention_model, parallel.enrollment) == (None, "PARALLEL", 16)
    assert "study design 'Parallel': allocation not stated" in parallel.parse_notes
    exosomes = found["ChiCTR2000030300"]
    assert exosomes.enrollment is None
    assert "target size 'about forty patients' not understood" in exosomes.parse_notes
    assert (exosomes.classification.controlled, exosomes.classification.control) == (False, "none")


def test_malformed_csv_rows_are_reported_with_line_and_skipped():
    path = DATA / "ictrp-malformed.csv"
    assert sorted(records(path)) == ["ChiCTR2000099991", "ChiCTR2000099993"]
    found = {(p.source.rsplit(" ", 1)[-1], p.record_id, p.message) for p in problems(path)}
    assert found == {("3", None, "TrialID is empty"),
                     ("4", "ChiCTR2000099992", "3 cells where the header has 10")}
    unreadable = records(path)["ChiCTR2000099993"]
    assert "last refreshed date 'not a date' is not a date" in unreadable.parse_notes
    assert "status 'Whatever' not understood" in unreadable.parse_notes


def test_broken_xml_keeps_the_trials_before_the_break():
    path = DATA / "ictrp-broken.xml"
    assert list(records(path)) == ["ChiCTR2000099994"]
    assert problems(path)[0].message.startswith("not well-formed XML")


@pytest.mark.parametrize(("text", "phases"), [
    ("Phase 1/Phase 2", ("PHASE1", "PHASE2")), ("Phase I/II", ("PHASE1", "PHASE2")), ("2-3", ("PHASE2", "PHASE3")),
    ("0", ("EARLY_PHASE1",)), ("N/A", ("NA",)), ("Not Applicable", ("NA",)), ("Early Phase 1", ("EARLY_PHASE1",)),
    ("Phase 4", ("PHASE4",)), ("Human pharmacology (Phase I): yes Therapeutic exploratory (Phase II): yes "
                               "Therapeutic confirmatory - (Phase III): no Therapeutic use (Phase IV): no",
                               ("PHASE1", "PHASE2")),
])
def test_phase_text(text, phases):
    assert free.parse_phases(text) == (phases, None)


@pytest.mark.parametrize(("text", "allocation", "masking"), [
    ("Allocation: Randomized. Intervention model: Parallel Assignment. Masking: Quadruple (Participant, Care "
     "Provider, Investigator, Outcomes Assessor).", "RANDOMIZED", "QUADRUPLE"),
    ("Allocation: Non-Randomized. Masking: None (Open Label).", "NON_RANDOMIZED", "NONE"),
    ("Allocation: N/A. Intervention model: Single Group Assignment. Masking: None (Open Label).", "NA", "NONE"),
    ("Randomization: Randomized, Blinding: Double blinded, Placebo: Used, Assignment: Parallel", "RANDOMIZED",
     "DOUBLE"),
    ("Controlled: yes Randomised: no Open: yes Single blind: no Double blind: no", "NON_RANDOMIZED", "NONE"),
    ("Randomised double-blind placebo-controlled trial", "RANDOMIZED", "DOUBLE"),
    ("Single arm", "NA", None), ("Non randomized control", "NON_RANDOMIZED", None),
])
def test_design_text(text, allocation, masking):
    assert free.parse_allocation(text)[0] == allocation
    assert free.parse_masking(text)[0] == masking


@pytest.mark.parametrize(("text", "size"), [
    ("60", 60), ("60;", 60), ("Experimental group:30;Control group:30;", 60), ("Case series:20;", 20),
    ("Target size: 40", 40), ("about forty", None), ("", None),
])
def test_target_size_text(text, size):
    assert free.parse_target_size(text)[0] == size
