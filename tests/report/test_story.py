"""The seed story (`report/story.py`, `equipoise demo story`): its numbers are those of the layers it tells, its
JSON has the keys a page reads, and bad options end with exit code 2."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from equipoise.cli.evidence_meta_csv import read_study_table
from equipoise.design.protocol_design import design_protocol
from equipoise.evidence.effect_sizes import Measure
from equipoise.evidence.meta_analysis import run_meta_analysis
from equipoise.evidence.pooled import Method
from equipoise.protocol import load_protocol
from equipoise.report.story import FIRST_REPORT, REAL_EFFECT, SeedStory, seed_story
from equipoise.simulate.claim_check import improved_count_distribution
from equipoise.simulate.natural_history import load_natural_history
from equipoise.simulate.single_arm import single_arm_design_from_protocol
from tests.conftest import CliResult

ROOT = Path(__file__).resolve().parents[2]
RCT = ROOT / "examples" / "covid19-msc-rct.yaml"
SINGLE_ARM = ROOT / "examples" / "covid19-msc-single-arm.yaml"
EVIDENCE = ROOT / "examples" / "evidence" / "msc-covid-mortality.csv"


@pytest.fixture(scope="module")
def story() -> SeedStory:
    model = load_natural_history("covid19")
    design = single_arm_design_from_protocol(load_protocol(SINGLE_ARM), model)
    return seed_story(design, load_protocol(RCT), model, read_study_table(EVIDENCE, Measure.RR), n_trials=100)


def test_single_arm_numbers_are_the_claim_checks_exact_distributions(story: SeedStory) -> None:
    model = load_natural_history("covid19")
    assert story.first_report.design.composition == FIRST_REPORT
    assert story.case_series.design.composition == {"mild": 16, "severe": 8, "critical": 7}
    for check in (story.first_report, story.case_series):
        assert [r.scenario.odds_ratio for r in check.results] == [1.0, REAL_EFFECT]
        for r in check.results:
            exact = improved_count_distribution(check.design, model, r.scenario.odds_ratio)
            assert r.p_all_improved == pytest.approx(float(exact[-1]), rel=1e-12)
        # 'all improved' is rare with no effect, likelier with a real one
        none, real = check.results
        assert none.p_all_improved < real.p_all_improved < 0.5
    assert story.case_series.results[0].p_all_improved < 1e-5


def test_the_rct_is_the_design_layers_and_its_boundaries(story: SeedStory) -> None:
    design = design_protocol(load_protocol(RCT))
    assert story.n_max == math.ceil(design.primary.n_total or 0) == 630
    d = story.to_dict()["rct"]
    assert [b["efficacy_z"] for b in d["boundaries"]] == pytest.approx(list(design.design.upper))
    assert [b["information_rate"] for b in d["boundaries"]] == pytest.approx([0.33, 0.67, 1.0])
    futility = design.design.futility
    assert futility is not None
    assert d["boundaries"][0]["futility_z"] == pytest.approx(float(futility[0]))
    assert d["boundaries"][-1]["futility_z"] is None


def test_the_simulated_interim_is_the_first_look_and_its_decision_follows_the_bounds(story: SeedStory) -> None:
    none, real = story.interims
    assert (none.odds_ratio, real.odds_ratio) == (1.0, REAL_EFFECT)
    for s in story.interims:
        r = s.result
        look = r.looks[-1]
        assert (r.look, r.planned_looks) == (1, 3)
        assert look.n == s.analysed == sum(s.by_arm.values()) == math.ceil(0.33 * 630)
        assert look.information_fraction == pytest.approx(s.analysed / 630)
        assert s.randomized >= s.analysed
        efficacy, futility = r.upper[0], r.lower[0]
        assert futility is not None
        expected = ("stop for efficacy" if look.z >= efficacy else "stop for futility" if look.z <= futility
                    else "continue")
        assert r.decision == expected
    # the same patients and allocations: only the experimental arm's courses differ
    assert (none.randomized, none.by_arm, none.look_date) == (real.randomized, real.by_arm, real.look_date)
    assert real.result.looks[-1].z > none.result.looks[-1].z
    # deterministic: the same seed gives the same trial
    model = load_natural_history("covid19")
    again = seed_story(story.case_series.design, load_protocol(RCT), model, None, n_trials=10)
    assert again.interims[0].result.looks[-1].z == none.result.looks[-1].z
    assert again.evidence is None


def test_the_evidence_is_the_cumulative_meta_analysis(story: SeedStory) -> None:
    table = read_study_table(EVIDENCE, Measure.RR)
    meta = run_meta_analysis(table, Measure.RR, Method.REML, with_cumulative=True)
    assert story.evidence is not None
    assert story.evidence.steps is not None
    assert meta.steps is not None
    assert story.evidence.pooled.estimate == pytest.approx(meta.pooled.estimate)
    assert [s.study for s in story.evidence.steps] == [s.study for s in meta.steps]
    last = story.evidence.steps[-1].pooled
    assert last is not None
    assert last.estimate == pytest.approx(meta.pooled.estimate)


def test_json_keys_and_text(story: SeedStory) -> None:
    d = json.loads(json.dumps(story.to_dict(), allow_nan=False))
    assert set(d) == {"seed", "single_arm", "rct", "interim", "evidence"}
    assert set(d["single_arm"]) == {"first_report", "case_series", "real_effect_odds_ratio_daily"}
    assert {"n_patients", "probability_all_improved", "expected_improved", "claim_check"} <= set(
        d["single_arm"]["case_series"])
    assert {"n_total", "boundaries", "power", "alpha", "design"} <= set(d["rct"])
    assert [i["label"] for i in d["interim"]] == ["no effect", "a real effect"]
    assert {"decision", "z", "efficacy_bound", "futility_bound", "analysed", "randomized", "look_date",
            "interim"} <= set(d["interim"][0])
    assert {"estimate", "ci_low", "ci_high", "k", "steps"} <= set(d["evidence"])
    text = " ".join(str(story).split())  # the paragraphs unwrapped
    for number in ("630", f"{story.interims[0].analysed}", story.interims[0].result.decision.upper(),
                   f"{story.evidence.pooled.estimate:.2f}" if story.evidence else ""):
        assert number in text
    assert "1 in 1.1 million studies" in text  # 'all 31 improved' with no effect


def test_plot_has_three_panels(story: SeedStory) -> None:
    fig = story.plot()
    assert len(fig.axes) == 3
    assert np.isfinite([ax.get_ylim() for ax in fig.axes]).all()


def test_cli_story_json(run_cli: Callable[..., CliResult], tmp_path: Path) -> None:
    picture = tmp_path / "story.png"
    result = run_cli("demo", "story", "--rct", RCT, "--single-arm", SINGLE_ARM, "--evidence", EVIDENCE, "-n", "20",
                     "--json", "--plot", picture)
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["rct"]["n_total"] == 630
    assert picture.stat().st_size > 10_000


@pytest.mark.parametrize(("args", "says"), [
    (["--n-trials", "0"], "--n-trials"),
    (["--bogus"], "--bogus"),
    (["--rct", "no-such-file.yaml"], "no-such-file.yaml"),
    (["--rct", str(SINGLE_ARM)], "control"),
    (["--evidence", str(RCT)], "msc-rct"),
    (["-n", "5", "--no-evidence", "--plot", "/no/such/dir/story.png"], "--plot"),
])
def test_cli_story_bad_options_exit_2(run_cli: Callable[..., CliResult], args: list[str], says: str) -> None:
    result = run_cli("demo", "story", "--single-arm", SINGLE_ARM, *args)
    assert result.code == 2, (result.stdout, result.stderr)
    assert says in result.stderr
    assert "Traceback" not in result.stderr
