"""GRADE-style certainty: each domain's rule on hand-worked cases (numbers chosen so the weights, I^2, intervals
and information sizes can be checked with a pencil), and the ``evidence certainty`` command."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from equipoise.errors import UserError
from equipoise.evidence.certainty import (
    Bias,
    Concern,
    assess_certainty,
    parse_concern,
    risk_of_bias_domain,
    trial_bias,
)
from equipoise.evidence.effect_sizes import Measure
from equipoise.evidence.egger import EggerTest
from equipoise.evidence.pooled import Method, Pooled
from equipoise.evidence.study_table import DataKind, StudyTable, fit_model
from equipoise.evidence.tsa import trial_sequential_analysis
from tests.conftest import CliResult

RunCli = Callable[..., CliResult]


def _generic(log_rr: list[float], se: list[float], method: Method = Method.FE) -> Pooled:
    names = tuple(f"T{i + 1}" for i in range(len(log_rr)))
    table = StudyTable(DataKind.GENERIC, names, {"estimate": np.array(log_rr), "se": np.array(se)})
    return fit_model(table, Measure.RR, method)


def test_trial_bias_from_design_flags() -> None:
    """GRADE 4: no concealment or no randomization is high risk; no blinding, or concealment not reported, is
    some concerns; a stated level wins."""
    assert trial_bias("a", randomized=True, concealed=True, blinded=True).level is Bias.LOW
    assert trial_bias("a", randomized=True, concealed=True, blinded=False).level is Bias.SOME
    assert trial_bias("a", randomized=True, concealed=None, blinded=True).level is Bias.SOME
    high = trial_bias("a", randomized=True, concealed=False, blinded=False)
    assert high.level is Bias.HIGH
    assert high.reason == "allocation not concealed; not blinded"
    assert trial_bias("a", randomized=False, concealed=True, blinded=True).level is Bias.HIGH
    assert trial_bias("a").reason == "not stated"
    assert trial_bias("a", stated=Bias.LOW, concealed=False).level is Bias.LOW


def test_risk_of_bias_weighted_majority() -> None:
    """Two trials with equal SE (FE weights 50% each): one high and one low -> half the weight at high risk ->
    two levels; one some and one low -> half at some-or-high -> one level. With SEs 0.1 and 0.2 the weights are
    80% and 20%: the small trial at high risk carries 20% -> no downgrade."""
    equal = _generic([-0.5, -0.3], [0.1, 0.1])
    low = trial_bias("T1", stated=Bias.LOW)
    assert risk_of_bias_domain(equal, [low, trial_bias("T2", stated=Bias.HIGH)]).downgrade == 2
    assert risk_of_bias_domain(equal, [low, trial_bias("T2", stated=Bias.SOME)]).downgrade == 1
    unequal = _generic([-0.5, -0.3], [0.1, 0.2])
    assert unequal.weights == pytest.approx([80.0, 20.0])
    d = risk_of_bias_domain(unequal, [low, trial_bias("T2", stated=Bias.HIGH)])
    assert d.downgrade == 0
    assert d.reasons == ("20% of the weight from trials at high risk, 20% at some or high risk",)


def test_high_certainty_when_nothing_is_wrong() -> None:
    """Two identical trials, log RR -0.5 with SE 0.1: FE RR exp(-0.5) = 0.607, CI exp(-0.5 -/+ 1.96 * 0.1 /
    sqrt 2) = 0.528 to 0.697 excludes 1 and 0.75; I^2 = 0."""
    pooled = _generic([-0.5, -0.5], [0.1, 0.1])
    trials = [trial_bias(s, randomized=True, concealed=True, blinded=True) for s in ("T1", "T2")]
    result = assess_certainty(pooled, trials, outcome="mortality")
    assert math.exp(pooled.ci_ub) == pytest.approx(math.exp(-0.5 + 1.959963984540054 * 0.1 / math.sqrt(2)))
    assert [d.downgrade for d in result.domains] == [0, 0, 0, 0, 0]
    assert result.certainty == "high"
    d = result.to_dict()
    assert d["certainty"] == "high"
    assert d["start"] == "high"
    assert "Certainty: HIGH" in str(result)


def test_inconsistency_rules() -> None:
    """Three trials at log RR -1, -0.2, 0.6 with SE 0.1 (weights 100): mean -0.2, Q = 100 (0.64 + 0 + 0.64) =
    128, I^2 = (128 - 2) / 128 = 98.4% >= 75%, and the DL prediction interval crosses 1 -> two levels. Trials at
    -0.6, -0.5, -0.4 with SE 0.1: Q = 2, I^2 = 0 -> none."""
    wide = _generic([-1.0, -0.2, 0.6], [0.1, 0.1, 0.1], Method.DL)
    assert wide.q == pytest.approx(128.0)
    assert wide.i2 == pytest.approx(100 * 126 / 128)
    result = assess_certainty(wide, [])
    assert result.domains[1].name == "inconsistency"
    assert result.domains[1].downgrade == 2
    calm = _generic([-0.6, -0.5, -0.4], [0.1, 0.1, 0.1], Method.DL)
    assert calm.q == pytest.approx(2.0)
    assert assess_certainty(calm, []).domains[1].downgrade == 0
    one_trial = _generic([-0.5], [0.1])
    assert assess_certainty(one_trial, []).domains[1].reasons == ("one trial: not applicable",)


def test_imprecision_rules() -> None:
    """One trial, log RR 0 with SE 0.2: CI exp(-/+0.392) = 0.676 to 1.48 includes 1 and both 0.75 and 1.25 ->
    two levels. Log RR -0.1, SE 0.1: CI 0.744 to 1.10 includes 1 but not both appreciable limits -> one."""
    both = assess_certainty(_generic([0.0], [0.2]), [])
    assert both.domains[3].downgrade == 2
    assert "both appreciable benefit and harm" in " ".join(both.domains[3].reasons)
    one = assess_certainty(_generic([-0.1], [0.1]), [])
    assert one.domains[3].downgrade == 1
    with_threshold = assess_certainty(_generic([-0.1], [0.1]), [], threshold=0.7)
    assert with_threshold.domains[3].downgrade == 0


def test_imprecision_counts_the_information_size() -> None:
    """A CI excluding 1 but far from the required information size is still rated down once: 2 x 100 patients,
    5/50 vs 15/50 deaths; control risk 0.3, RRR 0.25, alpha 5%, power 80% need RIS = 4 (2.8016)^2 0.2625 x
    0.7375 / 0.075^2 = 1,080.5, i.e. 1,081 patients."""
    table = StudyTable(DataKind.BINARY, ("A", "B"), {
        "events_treatment": np.array([5.0, 5.0]), "n_treatment": np.array([50.0, 50.0]),
        "events_control": np.array([15.0, 15.0]), "n_control": np.array([50.0, 50.0])})
    pooled = fit_model(table, Measure.RR, Method.FE)
    tsa = trial_sequential_analysis(table, Measure.RR, Method.DL, control_risk=0.3, rrr=0.25)
    assert math.ceil(tsa.ris) == 1081
    result = assess_certainty(pooled, [], tsa=tsa)
    imprecision = result.domains[3]
    assert math.exp(pooled.ci_ub) < 1
    assert imprecision.downgrade == 1
    assert "TSA: 200 of 1,081 required patients (19%), no boundary crossed" in imprecision.reasons


def test_judged_domains_and_egger() -> None:
    pooled = _generic([-0.5, -0.5], [0.1, 0.1])
    with pytest.raises(UserError, match="give the reason"):
        assess_certainty(pooled, [], indirectness=Concern.SERIOUS)
    result = assess_certainty(pooled, [], indirectness=Concern.VERY_SERIOUS, indirectness_reason="adults only",
                              publication_bias=Concern.SERIOUS, publication_bias_reason="industry trials only")
    assert [d.downgrade for d in result.domains] == [1, 0, 2, 0, 1]
    assert result.certainty == "very low"
    assert result.total_downgrade == 4
    twelve = _generic([-0.5 + 0.01 * i for i in range(12)], [0.1 + 0.02 * i for i in range(12)])
    asym = EggerTest(slope=2.0, statistic=2.5, p_value=0.012, limit_estimate=-0.9, df=None)
    d = assess_certainty(twelve, [], egger=asym).domains[4]
    assert d.downgrade == 1
    assert "Egger's test p = 0.012 (< 0.1): funnel-plot asymmetry" in d.reasons
    assert parse_concern("Very serious", "--x") is Concern.VERY_SERIOUS
    with pytest.raises(UserError, match="--x: 'bad'"):
        parse_concern("bad", "--x")


def test_certainty_cli(run_cli: RunCli, tmp_path: Path) -> None:
    csv = tmp_path / "trials.csv"
    csv.write_text("study,year,events_treatment,n_treatment,events_control,n_control,randomized,concealed,blinded\n"
                   "A,2020,5,50,15,50,yes,yes,yes\nB,2021,5,50,15,50,yes,no,no\n", encoding="utf-8")
    res = run_cli("evidence", "certainty", csv, "--method", "FE", "--control-risk", "0.3", "--rrr", "0.25",
                  "--outcome", "mortality", "--json")
    assert res.code == 0, res.stderr
    d = json.loads(res.stdout)
    assert d["outcome"] == "mortality"
    assert [x["downgrade"] for x in d["domains"]] == [2, 0, 0, 1, 0]
    assert d["certainty"] == "very low"
    assert d["trials"][1] == {"study": "B", "risk_of_bias": "high", "reason": "allocation not concealed; not blinded"}
    text = run_cli("evidence", "certainty", csv, "--method", "FE")
    assert "Certainty: LOW (2 levels down)" in text.stdout
    csv.write_text("study,events_treatment,n_treatment,events_control,n_control,blinded\nA,5,50,15,50,maybe\n",
                   encoding="utf-8")
    bad = run_cli("evidence", "certainty", csv)
    assert bad.code == 2
    assert "line 2, column blinded: 'maybe' is not yes/no" in bad.stderr


def test_certainty_cli_stated_risk_of_bias_and_errors(run_cli: RunCli, tmp_path: Path) -> None:
    csv = tmp_path / "trials.csv"
    csv.write_text("study,events_treatment,n_treatment,events_control,n_control,risk_of_bias\n"
                   "A,5,50,15,50,low\nB,5,50,15,50,Some concerns\n", encoding="utf-8")
    res = run_cli("evidence", "certainty", csv, "--method", "FE", "--json")
    assert res.code == 0, res.stderr
    d = json.loads(res.stdout)
    assert [t["risk_of_bias"] for t in d["trials"]] == ["low", "some"]
    assert d["domains"][0]["downgrade"] == 1  # half the weight at some concerns
    csv.write_text("study,events_treatment,n_treatment,events_control,n_control,risk_of_bias\n"
                   "A,5,50,15,50,dubious\n", encoding="utf-8")
    bad = run_cli("evidence", "certainty", csv)
    assert bad.code == 2
    assert "line 2, column risk_of_bias: 'dubious' is not low, some or high" in bad.stderr
    csv.write_text("study,events_treatment,n_treatment,events_control,n_control\nA,5,50,15,50\nA,4,50,15,50\n",
                   encoding="utf-8")
    dup = run_cli("evidence", "certainty", csv)
    assert dup.code == 2
    assert "repeated: A" in dup.stderr
    judged = run_cli("evidence", "certainty", csv.with_name("none.csv"))
    assert judged.code == 2


def test_certainty_of_the_msc_example(run_cli: RunCli, examples: Path) -> None:
    """The README's story: five small-to-moderate MSC trials, none reporting allocation concealment, 26% of the
    required information size: very low certainty, whatever the conventional CI says."""
    res = run_cli("evidence", "certainty", examples / "evidence" / "msc-covid-mortality.csv", "--method", "DL",
                  "--control-risk", "0.4", "--rrr", "0.25", "--json")
    assert res.code == 0, res.stderr
    d = json.loads(res.stdout)
    assert d["certainty"] == "very low"
    by = {x["domain"]: x for x in d["domains"]}
    assert by["risk of bias"]["downgrade"] == 1
    assert by["imprecision"]["downgrade"] == 1
    assert any("370 of 1,431 required patients" in r for r in by["imprecision"]["reasons"])
