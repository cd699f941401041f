"""Arm kinds and design classification from messy registrations."""

from __future__ import annotations

import pytest

from equipoise.evidence.design_classification import arm_kind, classify
from equipoise.evidence.registry_record import RegistryArm


@pytest.mark.parametrize(("arm_type", "label", "description", "names", "kind"), [
    ("PLACEBO_COMPARATOR", "Saline", None, [], "placebo"),
    ("SHAM_COMPARATOR", "Sham infusion", None, [], "placebo"),
    ("EXPERIMENTAL", "Placebo group", "Normal saline", ["Other: Placebo"], "placebo"),
    ("EXPERIMENTAL", "MSC group", "MSCs plus standard care", ["Biological: MSC"], "experimental"),
    ("EXPERIMENTAL", "Control group", "Usual care", [], "standard of care"),
    ("ACTIVE_COMPARATOR", "Standard care", "Treatment per national guideline", [], "standard of care"),
    ("ACTIVE_COMPARATOR", "Tocilizumab", "8 mg/kg", ["Drug: Tocilizumab"], "active"),
    ("ACTIVE_COMPARATOR", "Control", "SOC", [], "standard of care"),
    ("NO_INTERVENTION", "Observation", None, [], "standard of care"),
    ("OTHER", "Control", "Conventional treatment", [], "standard of care"),
    ("OTHER", "Conventional therapy group", None, [], "standard of care"),
    ("OTHER", "MSC infusion", "Cells on top of usual care", ["Biological: MSC"], "experimental"),
    ("OTHER", "Comparator", "Heparin alone", [], "unspecified"),
    (None, "Control group", None, ["Routine treatment"], "standard of care"),
])
def test_arm_kind(arm_type, label, description, names, kind):
    assert arm_kind(arm_type, label, description, names) == kind


def arm(kind: str) -> RegistryArm:
    return RegistryArm(label=kind, type=None, kind=kind)


def test_randomized_with_one_arm_is_flagged():
    c = classify(arms=[arm("experimental")], allocation="RANDOMIZED", masking="NONE", intervention_model=None,
                 study_type="INTERVENTIONAL", text="")
    assert c.randomized is True
    assert c.single_arm is True
    assert "allocation RANDOMIZED but a single arm" in c.design_flags


def test_text_saying_randomized_against_non_randomized_allocation_is_flagged():
    c = classify(arms=[arm("experimental"), arm("placebo")], allocation="NON_RANDOMIZED", masking="DOUBLE",
                 intervention_model="PARALLEL", study_type="INTERVENTIONAL", text="A randomized trial")
    assert c.randomized is False
    assert "allocation NON_RANDOMIZED but the title or design text says randomized" in c.design_flags


def test_placebo_in_open_label_is_flagged():
    c = classify(arms=[arm("experimental"), arm("placebo")], allocation="RANDOMIZED", masking="NONE",
                 intervention_model="PARALLEL", study_type="INTERVENTIONAL", text="")
    assert "a placebo control in an open-label design" in c.design_flags


def test_experimental_arms_only_is_uncontrolled():
    c = classify(arms=[arm("experimental"), arm("experimental")], allocation="RANDOMIZED", masking=None,
                 intervention_model="PARALLEL", study_type="INTERVENTIONAL", text="")
    assert (c.controlled, c.control, c.design_class) == (False, "none", "randomized, no control arm")


def test_observational():
    c = classify(arms=[], allocation=None, masking=None, intervention_model=None, study_type="OBSERVATIONAL",
                 text="")
    assert (c.design, c.design_class, c.randomized) == ("observational", "observational", False)


def test_non_randomized_in_title_is_not_read_as_randomized():
    c = classify(arms=[], allocation=None, masking=None, intervention_model=None, study_type="INTERVENTIONAL",
                 text="A non-randomized, open-label study")
    assert (c.randomized, c.blinded) == (False, False)
