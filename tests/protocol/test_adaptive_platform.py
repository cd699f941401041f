"""The adaptive platform section: the example validates and explains itself; each mistake is named by file,
line and field."""

from __future__ import annotations

import pytest

from equipoise.protocol import load_protocol, validate_text
from equipoise.protocol.adaptive_checks import experimental_arm_ids
from equipoise.protocol.adaptive_platform import Action, AllocationRule, PlatformModel
from equipoise.protocol.adaptive_text import describe_adaptive
from tests.conftest import EXAMPLES

FILE = EXAMPLES / "covid19-adaptive-platform.yaml"
TEXT = FILE.read_text(encoding="utf-8")


def test_example_reads_as_an_adaptive_platform():
    p = load_protocol(FILE)
    a = p.adaptive
    assert a is not None
    assert a.model.type is PlatformModel.PROPORTIONAL_ODDS
    assert a.model.log_or_sd == 1
    assert a.allocation.rule is AllocationRule.THOMPSON
    assert a.allocation.control == "sqrt"
    assert a.decisions.superiority is not None
    assert a.decisions.superiority.action is Action.DROP_ARM
    assert experimental_arm_ids(p) == ["msc", "tocilizumab", "dexamethasone", "baricitinib"]
    # the section survives amendments: the arm added by amendment is randomized under the same rules
    later = p.in_force(p.amendments[0].effective_date)
    assert later.adaptive == a
    assert later.arm("baricitinib") is not None


def test_explained_in_words():
    words = "\n".join(describe_adaptive(load_protocol(FILE)))
    assert "Normal(0, 1^2) prior on each log odds ratio" in words
    assert "every 300" in words
    assert "3000 patients" in words
    assert "sqrt(k)/(sqrt(k)+k)" in words
    assert "P(better than usual_care by more than an odds ratio of 1.2) < 0.05, the arm stops recruiting" in words
    assert "declared superior" in words
    assert "100 of its patients" in words


def test_protocol_show_and_validate(run_cli):
    shown = run_cli("protocol", "show", FILE)
    assert shown.code == 0
    assert "Adaptive platform" in shown.stdout
    assert "Superiority: if" in shown.stdout
    assert run_cli("protocol", "validate", FILE).code == 0


BROKEN = [
    ("model: {type: bayesian-proportional-odds, log_or_sd: 1, intercept_sd: 10}",
     "model: {type: beta-binomial, log_or_sd: 1, intercept_sd: 10}", "adaptive.model.type",
     "takes the bayesian-proportional-odds model"),
    ("  outcome: who_day28\n  # logit", "  outcome: who_day29\n  # logit", "adaptive.outcome",
     "unknown outcome 'who_day29'"),
    ("analyses: {every_patients: 300, max_patients: 3000}",
     "analyses: {every_patients: 300, every_days: 30, max_patients: 3000}", "adaptive.analyses",
     "exactly one of every_patients"),
    ("    floor: 0.1\n    cap: 0.6", "    floor: 0.7\n    cap: 0.6", "adaptive.allocation.floor",
     "must be below the cap"),
    ("    floor: 0.1\n    cap: 0.6", "    floor: 0.3\n    cap: 0.6", "adaptive.allocation.floor",
     "leave nothing for the rule"),
    ("futility: {probability: 0.05, margin: 1.2, action: drop-arm}",
     "futility: {probability: 0.05, action: drop-arm}", "adaptive.decisions.futility.margin",
     "needs a margin"),
    ("futility: {probability: 0.05, margin: 1.2, action: drop-arm}",
     "futility: {probability: 0.05, margin: 0.8, action: drop-arm}", "adaptive.decisions.futility.margin",
     "odds ratio >= 1"),
    ("inferiority: {probability: 0.01, action: drop-arm}",
     "inferiority: {probability: 0.01, action: promote-to-control}", "adaptive.decisions.inferiority.action",
     "only a superior arm"),
    ("superiority: {probability: 0.996, action: drop-arm}",
     "superiority: {probability: 0.4, action: drop-arm}", "adaptive.decisions.superiority.probability",
     "high posterior probability"),
    ("  method: response-adaptive\n", "  method: simple\n", "randomization.method", "thompson allocation"),
    ("    rule: thompson", "    rule: thomson", "adaptive.allocation.rule", "must be"),
]


@pytest.mark.parametrize(("old", "new", "field", "message"), BROKEN)
def test_mistakes_are_located(old: str, new: str, field: str, message: str):
    assert old in TEXT
    text = TEXT.replace(old, new, 1)
    report = validate_text(text, "platform.yaml")
    assert not report.valid
    found = [p for p in report.errors if p.field == field]
    assert found, [str(p) for p in report.errors]
    assert message in found[0].message
    assert found[0].file == "platform.yaml"
    assert found[0].line is not None
    assert new.splitlines()[0].strip()[:12] in text.splitlines()[found[0].line - 1] or field.startswith(
        "adaptive.analyses") or field == "randomization.method"
