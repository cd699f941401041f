"""The ``equipoise analyze`` commands through the real CLI: output fields, and one-line refusals (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "data" / "msc-rct-demo.csv"
PROTOCOL = ROOT / "examples" / "covid19-msc-rct.yaml"


@pytest.fixture
def sim_csv(fixtures_dir, tmp_path):
    path = tmp_path / "sim.csv"
    pd.read_csv(fixtures_dir / "analyze_sim.csv").to_csv(path, index=False)
    return path


def test_binary_json_fields(run_cli, sim_csv, ref):
    out = run_cli("analyze", "binary", "--data", sim_csv, "--outcome", "died", "--arm", "arm", "--control", "placebo",
                  "--strata", "severity", "--better", "lower", "--json")
    assert out.code == 0, out.stderr
    d = json.loads(out.stdout)
    for key in ("risk_difference", "risk_ratio", "odds_ratio"):
        assert {"estimate", "ci_low", "ci_high", "p_value"} <= set(d[key])
    assert d["odds_ratio"]["p_value"] == pytest.approx(ref["mantel_haenszel"]["cmh_p"], rel=1e-6)
    assert "favour msc" in d["direction"]


def test_binary_says_how_many_patients_a_missing_outcome_left_out(run_cli):
    """The demo has 5 patients without a day-28 vital status: the text and the JSON say so, by arm."""
    df = pd.read_csv(DEMO)
    missing = df.loc[df["died"].isna(), "arm"].value_counts().to_dict()
    out = run_cli("analyze", "binary", "--data", DEMO, "--outcome", "died", "--control", "placebo")
    assert out.code == 0, out.stderr
    by_arm = ", ".join(f"{arm} {missing[arm]}" for arm in ("msc", "placebo") if missing.get(arm))
    assert f"{len(df) - sum(missing.values())} patients analysed; {sum(missing.values())} with a missing outcome " \
           f"excluded ({by_arm})" in out.stdout
    d = json.loads(run_cli("analyze", "binary", "--data", DEMO, "--outcome", "died", "--control", "placebo",
                           "--json").stdout)
    assert d["n_missing"] == sum(missing.values()) == 5
    assert d["n_missing_by_arm"] == {arm: int(missing.get(arm, 0)) for arm in ("msc", "placebo")}
    assert d["n_analysed"] == len(df) - 5


def test_ordinal_json_fields_and_posterior(run_cli, sim_csv, ref):
    out = run_cli("analyze", "ordinal", "--data", sim_csv, "--outcome", "who_day28", "--arm", "arm", "--control",
                  "placebo", "--covariates", "severity,age", "--scale", "who-cps", "--better", "lower",
                  "--prior-sd", "0.5", "--important", "1.2", "--json")
    assert out.code == 0, out.stderr
    d = json.loads(out.stdout)
    assert {"log_odds_ratio", "se", "odds_ratio", "ci_low", "ci_high", "p_value", "thresholds", "direction"} <= set(d)
    assert d["log_odds_ratio"] == pytest.approx(-ref["ordinal"]["sim"]["beta"], rel=1e-6)
    assert 0 < d["posterior"]["probability_important"] < d["posterior"]["probability_of_benefit"] < 1


def test_survival_json_fields(run_cli, sim_csv):
    out = run_cli("analyze", "survival", "--data", sim_csv, "--time", "discharge_time", "--event", "discharge_status",
                  "--arm", "arm", "--control", "placebo", "--competing", "--strata", "severity", "--horizon", "28",
                  "--json")
    assert out.code == 0, out.stderr
    d = json.loads(out.stdout)
    assert {"log_hazard_ratio", "se", "hazard_ratio", "ci_low", "ci_high", "logrank_chisq", "logrank_p",
            "median"} <= set(d)
    assert set(d["median"]["msc"]) == {"estimate", "ci_low", "ci_high"}
    assert 0 < d["cumulative_incidence"]["msc"]["incidence"] < 1
    shr = d["subdistribution_hazard_ratio"]  # Fine–Gray, validated in test_fine_gray.py
    assert shr["ci_low"] < shr["estimate"] < shr["ci_high"]
    assert 0 < shr["p_value"] < 1
    assert "Fine–Gray" in shr["method"]


def test_survival_refuses_an_arm_without_events(run_cli, fixtures_dir, tmp_path):
    df = pd.read_csv(fixtures_dir / "analyze_sim.csv")
    df.loc[(df["arm"] == "msc") & (df["discharge_status"] == 1), "discharge_status"] = 0
    for extra in ([], ["--competing", "--strata", "severity"]):
        out = run_cli("analyze", "survival", "--data", _write(tmp_path, df), "--time", "discharge_time", "--event",
                      "discharge_status", "--control", "placebo", "--competing", *extra)
        assert out.code == 2
        assert out.stderr.strip().endswith("arm 'msc' has no events, so the hazard ratio of 'discharge_time' would "
                                            "be 0 (a monotone partial likelihood): it cannot be estimated")
        assert len(out.stderr.strip().splitlines()) == 1
        assert "Traceback" not in out.stderr


def test_protocol_reports_a_time_to_event_comparison_without_events(run_cli, tmp_path):
    df = pd.read_csv(DEMO)
    df.loc[df["arm"] == "msc", "discharge_date"] = None  # nobody in msc discharged (yet)
    path = _write(tmp_path, df)
    out = run_cli("analyze", "protocol", PROTOCOL, "--data", path, "--json")
    assert out.code == 0, out.stderr
    d = json.loads(out.stdout)
    tte = next(c["result"] for c in d["comparisons"] if c["outcome"] == "time_to_discharge")
    assert tte["hazard_ratio"] is None
    assert "subdistribution_hazard_ratio" not in tte
    assert tte["not_estimable"].startswith("arm 'msc' has no events")
    assert d["comparisons"][0]["result"]["odds_ratio"] is not None  # the other comparisons still run
    text = run_cli("analyze", "protocol", PROTOCOL, "--data", path)
    assert "hazard ratio not estimable: arm 'msc' has no events" in text.stdout


def test_protocol_runs_the_named_analyses(run_cli):
    out = run_cli("analyze", "protocol", PROTOCOL, "--data", DEMO, "--json")
    assert out.code == 0, out.stderr
    d = json.loads(out.stdout)
    roles = [(c["role"], c["outcome"]) for c in d["comparisons"]]
    assert roles == [("primary", "who_day28"), ("secondary", "death_day28"), ("secondary", "time_to_discharge"),
                     ("secondary", "ct_improvement_day14")]
    primary = d["comparisons"][0]["result"]
    assert primary["covariates"] == ["severitymild", "severitysevere", "age65under-65"]
    assert primary["odds_ratio_for"] == "a lower level"
    assert d["comparisons"][1]["result"]["strata"] == ["severity"]
    text = run_cli("analyze", "protocol", PROTOCOL, "--data", DEMO)
    assert "[primary] WHO clinical progression scale at day 28" in text.stdout


def _write(tmp_path: Path, df: pd.DataFrame) -> Path:
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("mutate", "args", "message"), [
    (None, ["binary", "--outcome", "dead", "--control", "placebo"], "no column 'dead'"),
    (None, ["binary", "--outcome", "died", "--control", "plac"], "control arm 'plac' not found in column 'arm'"),
    (("who_day28", 5, 11), ["ordinal", "--outcome", "who_day28", "--control", "placebo", "--scale", "who-cps"],
     "line 7: column 'who_day28' = 11 is not a level of WHO clinical progression scale (0–10)"),
    (("who_day28", 3, 2.5), ["ordinal", "--outcome", "who_day28", "--control", "placebo"], "is not a whole number"),
    (("who_day28", 8, 11), ["ordinal", "--outcome", "who_day28", "--control", "placebo"],
     "line 10: column 'who_day28' = 11 is not a level of WHO clinical progression scale (0–10)"),
    (("discharge_time", 0, -3), ["survival", "--time", "discharge_time", "--event", "discharge_status", "--control",
                                 "placebo", "--competing"], "line 2: column 'discharge_time' = -3 is negative"),
    (None, ["survival", "--time", "discharge_time", "--event", "discharge_status", "--control", "placebo"],
     "is not 0 (censored) or 1 (event)"),
    (("died", 9, 2), ["binary", "--outcome", "died", "--control", "placebo"], "line 11: column 'died' = 2 is not 0/1"),
    (("arm", 4, None), ["binary", "--outcome", "died", "--control", "placebo"], "line 6: column 'arm' is empty"),
    (None, ["binary", "--outcome", "died", "--control", "placebo", "--covariates", "weight"], "no column 'weight'"),
    (None, ["binary", "--outcome", "died", "--control", "placebo", "--interval", "bayes"], "--interval"),
])
def test_bad_input_is_refused_with_one_line(run_cli, fixtures_dir, tmp_path, mutate, args, message):
    df = pd.read_csv(fixtures_dir / "analyze_sim.csv")
    if mutate is not None:
        column, row, value = mutate
        df[column] = df[column].astype(object)
        df.loc[row, column] = value
    out = run_cli("analyze", *args[:1], "--data", _write(tmp_path, df), *args[1:])
    assert out.code == 2
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_protocol_refuses_an_arm_it_does_not_define(run_cli, tmp_path):
    df = pd.read_csv(DEMO)
    df.loc[3, "arm"] = "stem-cells"
    out = run_cli("analyze", "protocol", PROTOCOL, "--data", _write(tmp_path, df))
    assert out.code == 2
    assert "line 5: arm 'stem-cells' in column 'arm' is not an arm of the protocol (msc, placebo)" in out.stderr


def test_missing_file_is_refused(run_cli, tmp_path):
    out = run_cli("analyze", "binary", "--data", tmp_path / "nope.csv", "--outcome", "died", "--control", "placebo")
    assert out.code == 2
    assert "file not found" in out.stderr


def test_platform_arms_are_compared_with_concurrent_controls():
    """In the platform protocol, azithromycin is added on 2020-04-14: controls randomised before then are not
    its comparators; Edinburgh does not offer lopinavir, so its controls are not lopinavir's comparators."""
    from equipoise.analyze.protocol_analysis import concurrent_patients
    from equipoise.protocol import load_protocol

    protocol = load_protocol(ROOT / "examples" / "covid19-platform.yaml")
    site = protocol.sites[0].id
    assert site != "edinburgh"
    df = pd.DataFrame({"arm": ["usual_care", "usual_care", "azithromycin", "usual_care"],
                       "site": [site, site, site, "edinburgh"],
                       "randomised_on": ["2020-04-01", "2020-04-20", "2020-04-21", "2020-04-20"]})
    assert concurrent_patients(protocol, df, "azithromycin").tolist() == [False, True, True, True]
    assert concurrent_patients(protocol, df, "lopinavir")[[0, 1, 3]].tolist() == [True, True, False]


def test_bayesian_proportional_odds_in_the_protocol(tmp_path, run_cli):
    text = PROTOCOL.read_text(encoding="utf-8").replace("method: proportional-odds",
                                                        "method: bayesian-proportional-odds")
    proto = tmp_path / "bayes.yaml"
    proto.write_text(text, encoding="utf-8")
    out = run_cli("analyze", "protocol", proto, "--data", DEMO, "--primary-only", "--json")
    assert out.code == 0, out.stderr
    post = json.loads(out.stdout)["comparisons"][0]["posterior"]
    assert post["prior"].startswith("log odds_ratio ~ N(0, 1^2)")
    assert 0.5 < post["probability_of_benefit"] < 1
