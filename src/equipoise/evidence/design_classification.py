"""Randomized? Controlled, and against what? Single-arm? Blinded? Read from a registry record, robust to mess.

Registries are messy: a placebo arm typed EXPERIMENTAL is still a placebo control; "standard care", "usual care",
"SOC", "conventional treatment" name a standard-of-care control whatever the arm's type; allocation may be
missing while the title says "randomized, double-blind". The structured fields win when they are given; the
text is read only where they are silent, and every conclusion keeps its reason.

References
----------
ctrdata (R), ``f_controlType``: control type from ClinicalTrials.gov's interventionModel and armGroups.type
(none, no-treatment, placebo, active, placebo+active), https://github.com/rfhb/ctrdata.
ClinicalTrials.gov data element definitions: Arm Type, Allocation, Masking, Interventional Study Model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from equipoise.evidence.registry_record import Classification, RegistryArm

PLACEBO = re.compile(r"\b(placebos?|sham|dummy|simulat(?:ed|ion) (?:infusion|injection))\b", re.IGNORECASE)
STANDARD_CARE = re.compile(
    r"\b(standard[- ]of[- ]care|standard (?:care|treatment|therapy|medical treatment)|usual care|soc|"
    r"conventional (?:care|treatment|therapy)|routine (?:care|treatment|therapy)|best supportive care|"
    r"supportive care|basic treatment|regular treatment|no (?:additional )?intervention|no treatment)\b",
    re.IGNORECASE)
CONTROL_LABEL = re.compile(r"\b(control|controls|comparator|placebo|sham)\b", re.IGNORECASE)
RANDOMIZED_TEXT = re.compile(r"(?<!non[- ])(?<!non)(?<!not )\brandomi[sz](?:ed|ation)\b", re.IGNORECASE)
NON_RANDOMIZED_TEXT = re.compile(r"\b(non[- ]?randomi[sz]ed|not randomi[sz]ed|single[- ]arm|single[- ]group|"
                                 r"open[- ]label,? single)\b", re.IGNORECASE)
BLINDED_TEXT = re.compile(r"\b(double[- ]blind(?:ed)?|single[- ]blind(?:ed)?|triple[- ]blind(?:ed)?|"
                          r"quadruple[- ]blind(?:ed)?|masked|blinded)\b", re.IGNORECASE)
OPEN_TEXT = re.compile(r"\b(open[- ]label|unblinded|not blinded|non[- ]blinded)\b", re.IGNORECASE)
PLACEBO_CONTROLLED_TEXT = re.compile(r"\bplacebo[- ]controlled\b|\b(?:versus|vs\.?|compared with|or) placebo\b",
                                     re.IGNORECASE)
CONTROLLED_TEXT = re.compile(r"(?<!un)(?<!non-)\bcontrolled (?:trial|study)\b", re.IGNORECASE)
MODEL_WORDS = {"SINGLE_GROUP": "single-arm", "PARALLEL": "parallel", "CROSSOVER": "crossover",
               "FACTORIAL": "factorial", "SEQUENTIAL": "sequential"}
BLINDED_MASKINGS = {"SINGLE", "DOUBLE", "TRIPLE", "QUADRUPLE"}


def arm_kind(arm_type: str | None, label: str, description: str | None, interventions: Sequence[str]) -> str:
    """``experimental`` or the kind of control (``placebo``, ``active``, ``standard of care``, ``unspecified``).

    An arm's own words outrank its type: a PLACEBO_COMPARATOR is a placebo, and so is an EXPERIMENTAL arm named
    "Placebo"; an ACTIVE_COMPARATOR called "standard care" is standard of care. The description of an
    experimental arm is not read for control words (an MSC arm "on top of standard care" stays experimental).
    """
    kind_type = (arm_type or "").upper()
    own_words = " ".join([label, *interventions])
    all_words = " ".join([own_words, description or ""])
    if kind_type in {"PLACEBO_COMPARATOR", "SHAM_COMPARATOR"}:
        return "placebo"
    if kind_type in {"", "EXPERIMENTAL"}:
        if PLACEBO.search(own_words) and not _names_experimental_treatment(label):
            return "placebo"
        if CONTROL_LABEL.search(label) or STANDARD_CARE.fullmatch(label.strip()):
            return _control_kind_from_text(all_words)
        return "experimental"
    if kind_type == "NO_INTERVENTION":
        return "standard of care"
    if kind_type == "ACTIVE_COMPARATOR":
        if PLACEBO.search(all_words):
            return "placebo"
        return "standard of care" if STANDARD_CARE.search(all_words) else "active"
    # OTHER (and anything unknown): the words decide; an "Other" arm that is not a control is experimental.
    if CONTROL_LABEL.search(label) or PLACEBO.search(own_words) or STANDARD_CARE.search(label):
        return _control_kind_from_text(all_words)
    return "experimental"


def _names_experimental_treatment(label: str) -> bool:
    """A label such as "MSC + placebo-matched standard care" names a treatment beside the placebo word."""
    return bool(re.search(r"\b(msc|mscs|stem cells?|cells)\b", label, re.IGNORECASE)) and not CONTROL_LABEL.search(
        label.replace("placebo", ""))


def _control_kind_from_text(text: str) -> str:
    if PLACEBO.search(text):
        return "placebo"
    if STANDARD_CARE.search(text):
        return "standard of care"
    return "unspecified"


def classify(*, arms: Sequence[RegistryArm], allocation: str | None, masking: str | None,
             intervention_model: str | None, study_type: str | None, text: str) -> Classification:
    """Classify a design from the structured fields first, then the record's own words (titles, design text)."""
    reasons: list[str] = []
    flags: list[str] = []
    observational = study_type in {"OBSERVATIONAL", "EXPANDED_ACCESS"}
    design = "observational" if observational else MODEL_WORDS.get(intervention_model or "")
    controls = tuple(dict.fromkeys(a.kind for a in arms if a.kind != "experimental"))

    single_arm: bool | None
    if observational:
        single_arm = None
    elif intervention_model == "SINGLE_GROUP" or len(arms) == 1:
        single_arm = True
        reasons.append("one arm" if len(arms) == 1 else "intervention model SINGLE_GROUP")
        if len(arms) > 1:
            flags.append(f"intervention model SINGLE_GROUP but {len(arms)} arms registered")
            single_arm = False
        design = design or "single-arm"
    elif len(arms) > 1 or intervention_model in {"PARALLEL", "CROSSOVER", "FACTORIAL", "SEQUENTIAL"}:
        single_arm = False
    else:
        single_arm = None

    randomized: bool | None
    if allocation == "RANDOMIZED":
        randomized = True
        reasons.append("allocation RANDOMIZED")
        if single_arm:
            flags.append("allocation RANDOMIZED but a single arm")
    elif allocation == "NON_RANDOMIZED":
        randomized = False
        reasons.append("allocation NON_RANDOMIZED")
    elif allocation == "NA" or single_arm:
        randomized = False if not observational else None
        if randomized is False:
            reasons.append("single arm: nothing to randomize" if single_arm else "allocation NA")
    elif observational:
        randomized = False
        reasons.append("observational study")
    elif NON_RANDOMIZED_TEXT.search(text):
        randomized = False
        reasons.append("the record's text says non-randomized / single arm (no allocation field)")
    elif RANDOMIZED_TEXT.search(text):
        randomized = True
        reasons.append("the record's text says randomized (no allocation field)")
    else:
        randomized = None
    if allocation == "NON_RANDOMIZED" and RANDOMIZED_TEXT.search(text) and not NON_RANDOMIZED_TEXT.search(text):
        flags.append("allocation NON_RANDOMIZED but the title or design text says randomized")
    if allocation == "RANDOMIZED" and NON_RANDOMIZED_TEXT.search(text):
        flags.append("allocation RANDOMIZED but the title or design text says non-randomized or single arm")

    controlled: bool | None
    control: str | None
    if observational:
        controlled, control = None, None
    elif controls:
        controlled, control = True, _main_control(controls)
        reasons.append(f"control arm(s): {', '.join(controls)}")
    elif single_arm:
        controlled, control = False, "none"
    elif not arms and PLACEBO_CONTROLLED_TEXT.search(text):
        controlled, control, controls = True, "placebo", ("placebo",)
        reasons.append("the record's text says placebo-controlled (no arms given)")
    elif not arms and CONTROLLED_TEXT.search(text):
        controlled, control, controls = True, "unspecified", ("unspecified",)
        reasons.append("the record's text says controlled (no arms given)")
    elif len(arms) > 1:
        controlled, control = False, "none"
        reasons.append("no arm is a control (arms compare experimental treatments)")
    else:
        controlled, control = None, None

    blinded: bool | None
    if masking in BLINDED_MASKINGS:
        blinded = True
        reasons.append(f"masking {masking}")
    elif masking == "NONE":
        blinded = False
        reasons.append("masking NONE (open label)")
        if BLINDED_TEXT.search(text) and not OPEN_TEXT.search(text):
            flags.append("masking NONE but the title or design text says blinded")
    elif OPEN_TEXT.search(text):
        blinded = False
        reasons.append("the record's text says open label (no masking field)")
    elif BLINDED_TEXT.search(text):
        blinded = True
        reasons.append("the record's text says blinded (no masking field)")
    else:
        blinded = None
    if "placebo" in controls and blinded is False:
        flags.append("a placebo control in an open-label design")
    return Classification(randomized=randomized, controlled=controlled, control=control, control_kinds=controls,
                          single_arm=single_arm, blinded=blinded, design=design, reasons=tuple(reasons),
                          design_flags=tuple(flags))


def _main_control(kinds: tuple[str, ...]) -> str:
    for kind in ("placebo", "active", "standard of care", "unspecified"):
        if kind in kinds:
            return kind
    return kinds[0]
