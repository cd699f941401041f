"""Interim monitoring against rpact 3.3.4 (tests/reference/analyze_interim.R): boundaries at the observed
information, repeated confidence intervals, conditional power, predictive power (R: integrate over rpact's
conditional power), and the final stagewise p-value, median-unbiased estimate and confidence interval.
Tolerances: 1e-6 relative (rpact solves the final interval to 1e-6), 1e-7 for conditional power."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

pytest.importorskip("equipoise.design", reason="the design layer (branch design) provides the boundaries")

from equipoise.analyze.interim import LookData, MonitoringPlan, monitor

PLAN = MonitoringPlan((0.3, 0.62, 1.0), alpha=0.025, sided=1, spending="obf", futility_spending="hsd",
                      futility_gamma=-2, beta=0.1)


@pytest.fixture(scope="module")
def rpact(fixtures_dir_module):
    return json.loads((fixtures_dir_module / "analyze_interim.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def fixtures_dir_module():
    from tests.analyze.conftest import FIXTURES

    return FIXTURES


def _looks(s: dict[str, Any]) -> list[LookData]:
    events = s["events"] if isinstance(s["events"], list) else [s["events"]]
    zs = s["z"] if isinstance(s["z"], list) else [s["z"]]
    # rpact's survival dataset: log HR = 2 z / sqrt(events), SE = 2 / sqrt(events)
    return [LookData(2 * z / math.sqrt(e), 2 / math.sqrt(e), e / s["planned_events"]) for e, z in zip(events, zs,
                                                                                                      strict=True)]


@pytest.mark.parametrize("name", ["continue", "continue_observed_effect", "early_look", "efficacy", "final",
                                  "final_not_significant"])
def test_against_rpact_get_analysis_results(rpact, name):
    s = rpact["scenarios"][name]
    theta = math.log(s["theta_h1"]) if s["theta_h1"] else None
    res = monitor(PLAN, _looks(s), theta_design=theta, measure="hazard_ratio", log_scale=True)
    assert list(res.upper) == pytest.approx(s["critical"], rel=1e-6)
    assert [v for v in res.lower if v is not None] == pytest.approx(s["futility"], rel=1e-6)
    k = res.look
    for i in range(k):
        assert math.exp(res.rci[i][0]) == pytest.approx(s["rci_low"][i], rel=1e-6)
        assert math.exp(res.rci[i][1]) == pytest.approx(s["rci_high"][i], rel=1e-6)
    cp_ref = s["conditional_power"][-1]
    if k < 3:
        cp = res.conditional_power_design if theta is not None else res.conditional_power_observed
        assert cp == pytest.approx(cp_ref, abs=1e-7)
    if s["final_p"] is not None and res.final is not None:
        assert res.final.p_value == pytest.approx(s["final_p"], rel=1e-6)
        assert math.exp(res.final.median_unbiased) == pytest.approx(s["median_unbiased"], rel=1e-6)
        assert math.exp(res.final.ci_low) == pytest.approx(s["final_ci"][0], rel=1e-6)
        assert math.exp(res.final.ci_high) == pytest.approx(s["final_ci"][1], rel=1e-6)
    expected = {"continue": "continue", "continue_observed_effect": "continue", "early_look": "continue",
                "efficacy": "stop for efficacy", "final": "reject H0", "final_not_significant": "do not reject H0"}
    assert res.decision == expected[name]


@pytest.mark.parametrize("case", ["one_left", "two_left"])
def test_predictive_power_against_integrated_rpact_conditional_power(rpact, case):
    s = rpact["predictive_power"][case]
    res = monitor(PLAN, _looks(s))
    assert res.predictive_power == pytest.approx(s["value"], abs=1e-7)


def test_boundaries_follow_the_observed_information():
    looks = [LookData(0.1, 0.2, 0.25), LookData(0.3, 0.15, 0.55)]
    res = monitor(PLAN, looks)
    planned = PLAN.design()
    assert res.information_rates[:2] == (0.25, 0.55)
    assert res.upper[0] != pytest.approx(float(planned.upper[0]), rel=1e-3)
    assert any("recalculated" in r for r in res.reasons)


def test_overrunning_information_makes_the_look_final():
    looks = [LookData(0.1, 0.2, 0.3), LookData(0.3, 0.1, 1.08)]
    res = monitor(PLAN, looks)
    assert res.information_rates == (0.3, 1.0)
    assert res.decision in ("reject H0", "do not reject H0")
    assert res.final is not None


def test_mesoblast_like_futility_stop(run_cli):
    """A trial like Mesoblast's remestemcel-L study in COVID-19 ARDS (planned 300 patients, 30-day mortality,
    target 43% relative reduction from 40%) stopped for futility at its third interim analysis, 180 patients.
    With invented but plausible counts (35/90 vs 37/90 deaths), the plan says: stop for futility."""
    from tests.conftest import EXAMPLES

    out = run_cli("analyze", "interim", "--looks", EXAMPLES / "mesoblast-like-interim.csv", "--information-rates",
                  "0.3,0.45,0.6,1", "--spending", "obf", "--futility-spending", "hsd", "--futility-gamma", "-2",
                  "--beta", "0.2", "--better", "lower", "--design-effect", "0.172", "--json")
    same = run_cli("analyze", "interim", "--looks", EXAMPLES / "mesoblast-like-interim.csv", "--design",
                   EXAMPLES / "mesoblast-like-design.json", "--better", "lower", "--design-effect", "0.172", "--json")
    assert same.stdout == out.stdout
    assert out.code == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["look"] == 3
    assert d["decision"] == "stop for futility"
    assert d["conditional_power"]["design_effect"] < 0.25
    assert d["conditional_power"]["current_estimate"] < 0.01
    assert any("futility bound" in r for r in d["reasons"])


def test_protocol_interim_on_the_demo_trial(run_cli):
    from tests.conftest import EXAMPLES

    out = run_cli("analyze", "interim", "--protocol", EXAMPLES / "covid19-msc-rct.yaml", "--data",
                  EXAMPLES / "data" / "msc-rct-demo.csv", "--json")
    assert out.code == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["look"] == 2
    assert d["decision"] in ("continue", "stop for efficacy", "stop for futility")
    assert d["measure"] == "odds_ratio"
    assert len(d["looks"]) == 2


def test_interim_refuses_decreasing_information():
    from equipoise.errors import UserError

    with pytest.raises(UserError, match="increase"):
        monitor(PLAN, [LookData(0.1, 0.2, 0.5), LookData(0.1, 0.2, 0.4)])


def test_design_json_from_the_design_command_is_a_plan(run_cli, tmp_path):
    from tests.conftest import EXAMPLES

    design = run_cli("design", "gsd", "--info-rates", "0.3,0.45,0.6,1", "--spending", "obf", "--futility-spending",
                     "hsd", "--futility-gamma", "-2", "--beta", "0.2", "--json")
    assert design.code == 0, design.stderr
    path = tmp_path / "design.json"
    path.write_text(design.stdout, encoding="utf-8")
    from_json = run_cli("analyze", "interim", "--looks", EXAMPLES / "mesoblast-like-interim.csv", "--design", path,
                        "--better", "lower", "--design-effect", "0.172", "--json")
    from_file = run_cli("analyze", "interim", "--looks", EXAMPLES / "mesoblast-like-interim.csv", "--design",
                        EXAMPLES / "mesoblast-like-design.json", "--better", "lower", "--design-effect", "0.172",
                        "--json")
    assert from_json.code == 0, from_json.stderr
    assert json.loads(from_json.stdout) == json.loads(from_file.stdout)


def test_a_look_with_one_arm_only_is_named(run_cli, tmp_path):
    """An early look whose patients are all in one arm cannot compare the arms: the refusal names the look."""
    import pandas as pd

    from tests.conftest import EXAMPLES

    df = pd.read_csv(EXAMPLES / "data" / "msc-rct-demo.csv")
    df.loc[(df["look"] == 1) & (df["arm"] == "msc"), "look"] = 2
    path = tmp_path / "one-arm-first.csv"
    df.to_csv(path, index=False)
    out = run_cli("analyze", "interim", "--protocol", EXAMPLES / "covid19-msc-rct.yaml", "--data", path)
    assert out.code == 2
    assert out.stderr.startswith("look 1 (")
    assert "choose later look dates or fewer looks" in out.stderr
    assert "Traceback" not in out.stderr


def test_mesoblast_like_protocol_gives_and_explains_the_design_effect(run_cli, tmp_path):
    """The protocol's assumptions (40% -> 22.8% mortality) give the design effect the README used to type by hand,
    and the output says what it is, on which scale and where it came from; --plot draws the bounds and the Z path."""
    from tests.conftest import EXAMPLES

    typed = run_cli("analyze", "interim", "--looks", EXAMPLES / "mesoblast-like-interim.csv", "--design",
                    EXAMPLES / "mesoblast-like-design.json", "--better", "lower", "--design-effect", "0.172", "--json")
    picture = tmp_path / "interim.png"
    out = run_cli("analyze", "interim", "--looks", EXAMPLES / "mesoblast-like-interim.csv", "--protocol",
                  EXAMPLES / "mesoblast-like.yaml", "--json", "--plot", picture)
    assert out.code == 0, out.stderr
    d, t = json.loads(out.stdout), json.loads(typed.stdout)
    assert d["decision"] == t["decision"] == "stop for futility"
    assert d["conditional_power"]["design_effect"] == pytest.approx(t["conditional_power"]["design_effect"])
    note = next(n for n in d["notes"] if n.startswith("design effect"))
    for phrase in ("risk difference 0.172", "MESOBLAST-LIKE-ARDS's analysis.primary.assumptions", "p_control 0.4",
                   "p_treatment 0.228", "the effect the trial was sized for", "if that were the true effect"):
        assert phrase in note, phrase
    assert any("given by --design-effect" in n for n in t["notes"])
    assert picture.stat().st_size > 5000
    bare = run_cli("analyze", "interim", "--looks", EXAMPLES / "mesoblast-like-interim.csv", "--design",
                   EXAMPLES / "mesoblast-like-design.json", "--better", "lower")
    assert "no design effect" in bare.stdout
    help_text = " ".join(run_cli("analyze", "interim", "--help").stdout.split())
    assert "the effect the trial was sized for" in help_text.lower()
