"""A dozen ways to get a protocol file wrong; each must be named by file, line and field."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from equipoise.protocol import validate_text
from tests.conftest import EXAMPLES

RCT = (EXAMPLES / "covid19-msc-rct.yaml").read_text(encoding="utf-8")
PLATFORM = (EXAMPLES / "covid19-platform.yaml").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Broken:
    name: str
    base: str
    old: str
    new: str
    field: str
    message: str
    line_marker: str  # text on the line the problem must point at

    @property
    def text(self) -> str:
        assert self.old in self.base, f"{self.name}: the example no longer contains {self.old!r}"
        return self.base.replace(self.old, self.new, 1)

    @property
    def expected_line(self) -> int:
        for number, line in enumerate(self.text.splitlines(), start=1):
            if self.line_marker in line:
                return number
        raise AssertionError(f"{self.name}: marker {self.line_marker!r} not found")


CASES = [
    Broken("bad YAML", RCT, "  sided: 1\n", "  sided: [1\n", "", "YAML syntax error", "alpha: 0.025"),
    Broken("negative weight", RCT, "role: placebo\n    allocation: 1", "role: placebo\n    allocation: -1",
           "arms[1].allocation", "must be > 0", "allocation: -1"),
    Broken("misspelt key", RCT, "    kit_prefix: MSC\n  - id: placebo", "    kit_prefx: MSC\n  - id: placebo",
           "arms[0].kit_prefx", "did you mean 'kit_prefix'", "kit_prefx"),
    Broken("unknown arm at a site", PLATFORM, "arms: [usual_care, dexamethasone, hydroxychloroquine]",
           "arms: [usual_care, dexamethasone, remdesivir]", "sites[2].arms[2]", "unknown arm 'remdesivir'",
           "remdesivir"),
    Broken("missing outcome", RCT, "    outcome: who_day28\n    method: proportional-odds",
           "    outcome: who_day29\n    method: proportional-odds", "analysis.primary.outcome",
           "unknown outcome 'who_day29'", "who_day29"),
    Broken("missing required section", RCT, "outcomes:\n  - id: who_day28", "outcome_list:\n  - id: who_day28",
           "outcome_list", "unknown key 'outcome_list'", "outcome_list:"),
    Broken("wrong type", RCT, "alpha: 0.025", "alpha: low", "analysis.alpha", "must be a valid number",
           "alpha: low"),
    Broken("information rates out of order", RCT, "[0.33, 0.67, 1.0]", "[0.67, 0.33, 1.0]",
           "analysis.looks.information_rates[1]", "greater than the previous rate", "information_rates"),
    Broken("information rates not ending at 1", RCT, "[0.33, 0.67, 1.0]", "[0.33, 0.67, 0.9]",
           "analysis.looks.information_rates[2]", "last information rate must be 1", "information_rates"),
    Broken("unknown minimization factor", RCT, "weights: {severity: 2", "weights: {severty: 2",
           "randomization.minimization.weights.severty", "unknown factor 'severty'", "severty"),
    Broken("unknown role", RCT, "role: placebo", "role: sham", "arms[1].role", "must be one of", "role: sham"),
    Broken("unquoted version", RCT, 'version: "1.0"', "version: 1.0", "trial.version", "put quotes around",
           "version: 1.0"),
    Broken("key given twice", RCT, "  sided: 1\n", "  sided: 1\n  sided: 2\n", "analysis.sided", "given twice",
           "sided: 2"),
    Broken("unknown time zone", RCT, "Europe/Rome", "Europe/Atlantis", "sites[2].timezone", "unknown time zone",
           "Europe/Atlantis"),
    Broken("eligibility on an unknown field", RCT, "field: age, op: \">=\", value: 18",
           "field: age_years, op: \">=\", value: 18", "eligibility[0].field", "unknown enrolment field",
           "age_years"),
    Broken("date criterion compared with a number", RCT, "op: within-days", "op: \">\"", "eligibility[3].value",
           "compare it with a date", "value: 14"),
    Broken("hsd futility without gamma", RCT, "{spending: hsd, gamma: -2, binding: false}",
           "{spending: hsd, binding: false}", "analysis.looks.futility.gamma", "needs gamma", "spending: hsd"),
    Broken("method that does not fit the outcome", RCT, "method: proportional-odds", "method: logrank",
           "analysis.primary.method", "does not analyse a ordinal outcome", "method: logrank"),
    Broken("control distribution not summing to 1", RCT, "0.04, 0.04, 0.16]", "0.04, 0.04, 0.26]",
           "analysis.primary.assumptions.control_distribution", "add up to 1", "control_distribution"),
    Broken("kit prefixes reveal the arm", RCT, "    kit_prefix: MSC\n  - id: placebo",
           "    kit_prefix: ACT\n  - id: placebo", "arms[0].kit_prefix", "would reveal the arm", "kit_prefix: ACT"),
    Broken("amendment drops an arm that is not there", PLATFORM, "arm: hydroxychloroquine, reason",
           "arm: chloroquine, reason", "amendments[1].changes[0].arm", "not in the trial", "arm: chloroquine"),
    Broken("unknown amendment change", PLATFORM, "change: drop-arm", "change: remove-arm",
           "amendments[1].changes[0]", "unknown change 'remove-arm'", "remove-arm"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_broken_variant_is_located(case: Broken):
    report = validate_text(case.text, "covid.yaml")
    assert not report.valid
    matching = [p for p in report.errors if case.message in p.message and p.field == case.field]
    assert matching, f"expected {case.field}: {case.message!r}; got:\n{report}"
    problem = matching[0]
    assert problem.file == "covid.yaml"
    assert problem.line == case.expected_line
    assert str(problem).startswith(f"covid.yaml:{case.expected_line}{' ' if case.field else ': '}")


def test_every_problem_is_reported_not_just_the_first():
    text = RCT.replace("alpha: 0.025", "alpha: low").replace("Europe/Rome", "Europe/Atlantis")
    report = validate_text(text, "covid.yaml")
    assert {p.field for p in report.errors} >= {"analysis.alpha", "sites[2].timezone"}


def test_problem_text_has_the_issue_format():
    case = next(c for c in CASES if c.name == "negative weight")
    report = validate_text(case.text, "covid.yaml")
    assert str(report.errors[0]) == f"covid.yaml:{case.expected_line} arms[1].allocation: must be > 0 (got -1)"


def test_norway_is_not_false():
    text = RCT.replace("country: IT", "country: NO")
    report = validate_text(text, "covid.yaml")
    assert report.valid
    assert report.protocol is not None
    assert report.protocol.sites[2].country == "NO"
