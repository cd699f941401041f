"""Every result object of the pure layers prints a readable summary with its key numbers (``str(result)``).

Each object is built by the function that returns it where that is quick, else from its fields; the test
checks that the printed text holds the numbers a reader looks for, rounded as printed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from equipoise.allocate.request import AllocationRequest, ArmWeight
from equipoise.analyze.binary import arm_count, logistic_regression, mantel_haenszel
from equipoise.analyze.interim import FinalInference
from equipoise.analyze.kaplan_meier import cumulative_incidence, kaplan_meier, logrank
from equipoise.analyze.ordinal import ProportionalOddsTest, wilcoxon_mann_whitney
from equipoise.analyze.platform_analysis import ArmPosterior, OutcomePosteriors
from equipoise.analyze.protocol_analysis import ComparisonResult
from equipoise.analyze.results import wald
from equipoise.design import bounds_at, gsd
from equipoise.design.protocol_design import SecondaryPower
from equipoise.evidence.batch import random_effects_batch
from equipoise.evidence.certainty import Bias, Domain, trial_bias
from equipoise.evidence.effect_sizes import Measure
from equipoise.evidence.pooled import Method
from equipoise.evidence.registry_record import Classification, RegistryArm
from equipoise.evidence.sensitivity import Step, cumulative
from equipoise.evidence.study_table import DataKind, StudyTable, fit_model
from equipoise.evidence.subgroups import subgroup_analysis
from equipoise.evidence.tsa import TsaLook
from equipoise.protocol import load_protocol
from equipoise.protocol.eligibility import CriterionKind, CriterionResult
from equipoise.simulate.adaptive_platform_result import ArmCharacteristics
from equipoise.simulate.claim_check import Scenario, check_claim
from equipoise.simulate.natural_history import load_natural_history
from equipoise.simulate.single_arm import Claim, SingleArmDesign

BINARY = StudyTable(DataKind.BINARY, ("A", "B", "C"), {
    "events_treatment": np.array([5.0, 8.0, 12.0]), "n_treatment": np.array([50.0, 60.0, 100.0]),
    "events_control": np.array([15.0, 12.0, 20.0]), "n_control": np.array([50.0, 60.0, 100.0])},
    years=(2020.0, 2021.0, 2022.0), subgroups=("mild", "mild", "severe"))


def lines_of(obj: object) -> list[str]:
    text = str(obj)
    assert "object at 0x" not in text
    assert not text.startswith(type(obj).__name__ + "(")
    return text.splitlines()


def test_protocol_and_design_parts() -> None:
    criterion = CriterionResult("adult", "Aged 18 or over", CriterionKind.INCLUSION, False, "age 17 is below 18")
    assert str(criterion) == "inclusion criterion adult: not met (age 17 is below 18)"
    assert str(SecondaryPower("death_day28", "risk-difference", 0.41234)) == \
        "Secondary death_day28 (risk-difference): power 0.4123"
    bounds = bounds_at(gsd(3, alpha=0.025), [0.4, 0.75, 1.0], final=True)
    text = lines_of(bounds)
    assert "final analysis" in text[0]
    assert len(text) == 2 + 3
    assert f"{bounds.upper[-1]:.4f}" in text[-1]
    assert "0.025000" in text[-1]
    assert text[2].split()[1] == "0.400"


def test_simulate_parts() -> None:
    arm = ArmCharacteristics("msc", 0.35, False, False, {"superiority": 0.812, "futility": 0.05},
                             412.5, {"10%": 300.0}, -0.0123)
    assert str(arm) == ("msc: true effect 0.350; P(superiority) 0.812, P(futility) 0.050; patients: mean 412.5; "
                        "bias -0.0123")
    claim = Claim("all_improved", "all 31 improved", 0.0004, 0.0002, 0.0011)
    assert str(claim) == ("all 31 improved: 0.04% (Monte Carlo SE 0.02; one-sided 95% upper bound 0.11%)")
    check = check_claim(SingleArmDesign({"mild": 3}), load_natural_history(), [Scenario("no effect", 1.0)],
                        n_trials=200, seed=1)
    scenario = check.results[0]
    text = str(scenario)
    assert text.startswith("no effect (no effect): ")
    assert f"{scenario.expected_improved:.1f} of 3 improved expected" in text


def test_allocation_request() -> None:
    request = AllocationRequest(arms=(ArmWeight("usual_care", 2), ArmWeight("msc", 1)),
                                all_arms=(ArmWeight("usual_care", 2), ArmWeight("msc", 1)),
                                factors={"severity": "severe"}, stratum="severe")
    assert str(request.arms[0]) == "usual_care (weight 2)"
    assert lines_of(request) == ["Allocation request: open arms usual_care:2,msc:1 (in force: usual_care:2,msc:1)",
                                 "  factors: severity=severe", "  stratum: severe"]


def test_binary_parts() -> None:
    count = arm_count("msc", 5, 50)
    assert str(count).startswith("msc: 5/50 (10.0%; Wilson 4.3 to 21.4%")
    mh = mantel_haenszel([5, 8], [50, 60], [15, 12], [50, 60])
    text = lines_of(mh)
    assert text[0] == "Mantel–Haenszel over 2 strata"
    assert f"{mh.risk_ratio.estimate:.3f}" in text[2]
    assert f"{mh.cmh_chisq:.3f}" in text[4]
    y = np.array([0, 1, 0, 1, 1, 0, 0, 1, 1, 0, 1, 1])
    arm = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    fit = logistic_regression(y, np.column_stack([np.ones(12), arm]), ["intercept", "arm"])
    text = lines_of(fit)
    assert text[0].startswith("Logistic regression (n = 12, log-likelihood ")
    assert f"{fit.odds_ratio.estimate:.3f}" in text[0]
    assert f"{fit.coefficients['arm'][0]:.4f}" in text[2]


def test_survival_parts() -> None:
    time = [1, 2, 2, 3, 4, 5, 6, 7, 8, 9]
    event = [1, 1, 0, 1, 1, 0, 1, 1, 0, 0]
    km = kaplan_meier(time, event)
    text = str(km)
    assert text.startswith("Kaplan–Meier: n = 10, 6 events; median ")
    assert f"{km.median().estimate:.1f}" in text
    assert f"S(9.0) = {km.surv[-1]:.3f}" in text
    rank = logrank(time, event, [1, 0, 1, 0, 1, 0, 1, 0, 1, 0])
    assert f"chi-square {rank.chisq:.3f} on 1 df" in str(rank)
    ci = cumulative_incidence(time, [1, 2, 0, 1, 1, 0, 2, 1, 0, 0])
    text = str(ci)
    assert text.startswith("Cumulative incidence (Aalen–Johansen): n = 10; by time 9.0: ")
    assert f"{ci.at(9.0):.3f}" in text


def test_ordinal_and_interim_parts() -> None:
    po = ProportionalOddsTest(3.2109, 4, 0.5234, {})
    assert str(po) == "Proportional-odds likelihood-ratio test: chi-square 3.211 on 4 df, p = 0.5234"
    w = wilcoxon_mann_whitney([1, 2, 2, 3], [2, 3, 4, 4])
    assert str(w).startswith(f"Wilcoxon–Mann–Whitney W = {w.statistic:.1f}, p = {w.p_value:.4f}")
    final = FinalInference(2, 0.01234, 0.412, 0.101, 0.73, 0.95)
    assert str(final) == ("Final inference at look 2 (stagewise ordering): one-sided p = 0.01234, median-unbiased "
                          "estimate 0.412, 95% CI 0.101 to 0.730")


def test_platform_and_protocol_comparison(examples: Path) -> None:
    control = ArmPosterior("usual_care", True, 120, 100, 30, 0.3, 0.05, None, None, None, 0.1, "continue", None)
    arm = ArmPosterior("msc", False, 118, 98, 20, 0.2, 0.04, 0.9712, None, None, 0.9, "superior", "stop")
    block = OutcomePosteriors("death_day28", "beta-binomial", (control, arm))
    text = lines_of(block)
    assert text[0] == "death_day28 (beta-binomial):"
    assert text[2].startswith("  msc: 118 randomized, 98 with outcome; estimate 0.200 (sd 0.040); P(better) 0.9712")
    assert text[2].endswith("superior -> stop")
    protocol = load_protocol(examples / "covid19-msc-rct.yaml")
    outcome = protocol.outcome("death_day28")
    assert outcome is not None
    estimate = wald(-0.1, 0.05, 0.95, "Wald")
    comparison = ComparisonResult("secondary", outcome, "risk-difference", estimate)  # type: ignore[arg-type]
    assert lines_of(comparison) == [f"[secondary, risk-difference] {outcome.name}", "-0.100 (-0.198 to -0.002), "
                                    f"p = {estimate.p_value:.4f}"]


def test_evidence_parts() -> None:
    pooled = fit_model(BINARY, Measure.RR, Method.DL)
    text = str(pooled)
    assert text.startswith("DL pooled ")
    assert f"{pooled.estimate:.4f} (95% CI {pooled.natural(pooled.ci_lb):.4f}" in text
    assert f"I^2 = {pooled.i2:.1f}%" in text
    assert f"tau^2 = {pooled.tau2:.4f}" in text
    effects = lines_of(pooled.effects)
    assert "of 3 trials (log scale" in effects[0]
    assert f"{pooled.effects.yi[0]:.4f}" in effects[1]
    steps = cumulative(BINARY, Measure.RR, Method.FE)
    assert str(steps[-1]).startswith(f"C (2022): k = 3, {steps[-1].pooled.estimate:.4f}")  # type: ignore[union-attr]
    assert str(Step("A", None, None, "one trial")) == "A: not estimable (one trial)"
    groups = subgroup_analysis(BINARY, Measure.RR, Method.FE)
    group_lines = lines_of(groups)
    assert group_lines[1].startswith("  mild: k = 2, ")
    assert group_lines[-1].startswith(f"Test for subgroup differences: Q_between(df = 1) = {groups.q_between:.4f}")
    y = np.array([[0.1, 0.3, -0.2], [0.5, 0.4, 0.6]])
    batch = random_effects_batch(y, np.full((2, 3), 0.04), np.ones((2, 3), dtype=bool))
    batch_lines = lines_of(batch)
    assert batch_lines[0] == "2 meta-analyses (analysis scale: log for ratios)"
    assert f"{batch.beta[1]:.4f}" in batch_lines[3]


def test_evidence_records_and_certainty() -> None:
    bias = trial_bias("Shu 2020", randomized=True, concealed=True, blinded=False)
    assert str(bias) == "Shu 2020: some concerns risk of bias (not blinded)"
    assert bias.level is Bias.SOME
    assert str(Domain("imprecision", 1, ("CI crosses 1",))) == "imprecision: serious (-1): CI crosses 1"
    look = TsaLook("Shu 2020", 1234.0, 0.4567, 1.9612, 3.1234, None)
    assert str(look) == ("after Shu 2020: 1,234 patients (information fraction 0.457), z = 1.961, "
                         "boundary 3.123")
    arm = RegistryArm("MSC", "EXPERIMENTAL", "experimental", interventions=("umbilical cord MSC",))
    assert str(arm) == "arm 'MSC': EXPERIMENTAL -> experimental (umbilical cord MSC)"
    cls = Classification(True, True, "placebo", ("placebo",), False, True, "parallel")
    assert str(cls) == ("randomized controlled: randomized yes, controlled yes (control: placebo), blinded yes")


def test_every_result_object_has_its_own_str() -> None:
    """No frozen result object with to_dict() in a pure layer falls back to the dataclass repr."""
    src = Path(__file__).resolve().parents[1] / "src" / "equipoise"
    exempt = {"SequentialPlan"}  # the simulator's boundaries (an input, not a result)
    missing = []
    for layer in ("protocol", "design", "simulate", "allocate", "analyze", "evidence", "report"):
        for path in sorted((src / layer).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    methods = {m.name for m in node.body if isinstance(m, ast.FunctionDef)}
                    if "to_dict" in methods and "__str__" not in methods and node.name not in exempt:
                        missing.append(f"{path.relative_to(src)}:{node.name}")
    assert not missing, missing
