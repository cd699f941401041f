"""The protocol file: the one description of a trial that every other layer reads."""

from equipoise.protocol.amendments import Amendment
from equipoise.protocol.analysis_plan import AnalysisMethod, AnalysisPlan, Comparison, Looks, SpendingFamily
from equipoise.protocol.arms import Arm, ArmRole, InterventionType
from equipoise.protocol.blinding import Blinding
from equipoise.protocol.eligibility import Criterion, EligibilityResult, evaluate_eligibility
from equipoise.protocol.fields import DataField, FieldType
from equipoise.protocol.forms import Enrolment, Form, Target, Visit
from equipoise.protocol.loader import ValidationReport, load_protocol, validate_file, validate_text
from equipoise.protocol.model import Protocol, TrialIdentity
from equipoise.protocol.outcomes import Better, Outcome, OutcomeType
from equipoise.protocol.problems import InvalidProtocolError, Problem, Severity
from equipoise.protocol.randomization import Factor, Randomization, RandomizationMethod
from equipoise.protocol.scales import WHO_CLINICAL_PROGRESSION_SCALE, OrdinalScale
from equipoise.protocol.sites import Site

__all__ = [
    "WHO_CLINICAL_PROGRESSION_SCALE",
    "Amendment",
    "AnalysisMethod",
    "AnalysisPlan",
    "Arm",
    "ArmRole",
    "Better",
    "Blinding",
    "Comparison",
    "Criterion",
    "DataField",
    "EligibilityResult",
    "Enrolment",
    "Factor",
    "FieldType",
    "Form",
    "InterventionType",
    "InvalidProtocolError",
    "Looks",
    "OrdinalScale",
    "Outcome",
    "OutcomeType",
    "Problem",
    "Protocol",
    "Randomization",
    "RandomizationMethod",
    "Severity",
    "Site",
    "SpendingFamily",
    "Target",
    "TrialIdentity",
    "ValidationReport",
    "Visit",
    "evaluate_eligibility",
    "load_protocol",
    "validate_file",
    "validate_text",
]
