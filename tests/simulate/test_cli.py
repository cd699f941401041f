"""The `equipoise simulate` commands, through the real entry point."""

import json

import pytest


def test_single_arm_json_reports_the_founding_lesson(run_cli, examples):
    r = run_cli("simulate", "single-arm", examples / "covid19-msc-single-arm.yaml", "--effect", "none",
                "--n-trials", "3000", "--json")
    assert r.code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["n_trials"] == 3000
    # --effect none leaves the large effect out: no effect against the plausible effect
    assert [s["label"] for s in d["scenarios"]] == ["no effect", "a plausible effect"]
    assert 0 <= d["probability_all_improved"]["no effect"] <= 0.01
    claim = next(c for c in d["scenarios"][0]["claims"] if c["key"] == "all_improved")
    assert claim["upper_95"] <= 0.01
    assert d["no_effect"]["probability_most_discharged"] > 0.9


def test_single_arm_readable_output_compares_the_effects(run_cli, examples, tmp_path):
    r = run_cli("simulate", "single-arm", examples / "covid19-msc-single-arm.yaml", "-n", "2000", "--plot",
                tmp_path / "claims.png")
    assert r.code == 0, r.stderr
    assert (tmp_path / "claims.png").stat().st_size > 1000
    flat = " ".join(r.stdout.split())
    assert "no effect a plausible effect a large effect" in flat
    assert "odds ratio 1.3 odds ratio 3" in flat
    assert "cannot tell them apart" in flat
    assert "Only a concurrent randomized control" in flat
    r = run_cli("simulate", "single-arm", examples / "covid19-msc-single-arm.yaml", "-n", "500", "--effect", "or=2",
                "--plausible", "none", "--json")
    assert r.code == 0, r.stderr
    d = json.loads(r.stdout)
    assert [(s["label"], s["odds_ratio"]) for s in d["scenarios"]] == [("no effect", 1.0), ("a large effect", 2.0)]


def test_protocol_fixed_design_type_one_error(run_cli, examples, tmp_path):
    picture = tmp_path / "oc.png"
    r = run_cli("simulate", "protocol", examples / "covid19-platform.yaml", "--effect", "none", "-n", "20000",
                "--json", "--plot", picture)
    assert r.code == 0, r.stderr
    d = json.loads(r.stdout)
    for key in ("n_trials", "rejection_probability", "mc_se", "expected_n", "stop_probability_by_look"):
        assert key in d
    assert abs(d["rejection_probability"] - 0.01) <= 3.5 * d["mc_se"]
    assert picture.stat().st_size > 1000


def test_protocol_with_natural_history(run_cli, examples):
    r = run_cli("simulate", "protocol", examples / "covid19-platform.yaml", "--natural-history", "covid19",
                "--population", "recovery-oxygen", "--effect", "or=1.3", "-n", "2000", "--json")
    assert r.code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["scenario"]["natural_history"] == "covid19-hospitalised-2020"
    assert d["rejection_probability"] > 0.5


def test_platform_and_calibration_commands(run_cli):
    r = run_cli("simulate", "platform", "--rates", "0.3,0.2", "--looks", "100:400:100", "-n", "200", "--json")
    assert r.code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["probability_select"]["B"] > 0.5
    r = run_cli("simulate", "calibration", "--json")
    assert r.code == 0
    assert json.loads(r.stdout)["all_ok"] is True


def test_curve_command_labels_its_table(run_cli, examples, tmp_path):
    r = run_cli("simulate", "curve", examples / "covid19-platform.yaml", "--effect", "p=0.2,0.16", "-n", "2000",
                "--plot", tmp_path / "curve.png")
    assert r.code == 0, r.stderr
    flat = " ".join(r.stdout.split())
    for phrase in ("dexamethasone vs usual_care", "outcome death_day28", "2,000 simulated trials per effect",
                   "risk of the outcome in the experimental arm", "P(reject H0)", "type I error", "power"):
        assert phrase in flat, phrase
    rows = [line.split() for line in r.stdout.splitlines() if line.strip().startswith(("0.2 ", "0.16 "))]
    assert [row[3] for row in rows] == ["type", "power"]  # p = the control risk is no effect: type I error
    assert (tmp_path / "curve.png").exists()
    r = run_cli("simulate", "curve", examples / "covid19-platform.yaml", "--effect", "or=1,1.3", "-n", "300",
                "--natural-history", "covid19", "--population", "recovery-oxygen", "--json")
    assert r.code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["n_trials_per_effect"] == 300
    assert d["comparison"] == "dexamethasone vs usual_care"
    assert d["null_hypothesis_true"] == [True, False]
    assert "daily transition" in d["effect_meaning"]


def test_odds_ratio_says_which_every_time(run_cli, examples):
    """or= is a daily-transition odds ratio with --natural-history and an outcome odds ratio without it."""
    r = run_cli("simulate", "protocol", examples / "covid19-msc-rct.yaml", "--effect", "or=1.3", "-n", "200")
    assert r.code == 0, r.stderr
    assert "odds ratio of the outcome" in r.stdout
    r = run_cli("simulate", "protocol", examples / "covid19-platform.yaml", "--natural-history", "covid19",
                "--population", "recovery-oxygen", "--effect", "or=1.3", "-n", "200", "--json")
    assert r.code == 0, r.stderr
    d = json.loads(r.stdout)
    assert "daily transition of the WHO scale" in d["scenario"]["effect_meaning"]
    assert any("outcome odds ratio of" in n for n in d["notes"])
    for command in ("protocol", "curve", "single-arm"):
        help_text = " ".join(run_cli("simulate", command, "--help").stdout.split())
        assert "daily transition" in help_text, command


@pytest.mark.parametrize("args", [
    ("simulate", "protocol", "EXAMPLES/covid19-platform.yaml", "--effect", "bogus"),
    ("simulate", "single-arm", "EXAMPLES/covid19-platform.yaml"),
    ("simulate", "single-arm", "EXAMPLES/covid19-msc-single-arm.yaml", "--effect", "hr=0.5"),
    ("simulate", "single-arm", "EXAMPLES/covid19-msc-single-arm.yaml", "--natural-history", "nowhere"),
    ("simulate", "platform", "--rates", "0.3,x", "--looks", "100:200:100"),
    ("simulate", "platform", "--rates", "0.3,0.3", "--looks", "100:200:0"),
    ("simulate", "protocol", "EXAMPLES/covid19-platform.yaml", "--scheduler", "tcp://127.0.0.1:9", "-n", "10"),
])
def test_bad_input_is_one_line_and_exit_2(run_cli, examples, args):
    r = run_cli(*[a.replace("EXAMPLES", str(examples)) for a in args])
    assert r.code == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.strip()


def test_protocol_time_to_discharge_from_virtual_patients(run_cli, examples, tmp_path):
    text = (examples / "covid19-msc-rct.yaml").read_text(encoding="utf-8")
    start, end = text.index("  primary:\n"), text.index("  secondary:\n")
    path = tmp_path / "ttd.yaml"
    path.write_text(text[:start] + "  primary:\n    outcome: time_to_discharge\n    method: logrank\n" + text[end:],
                    encoding="utf-8")
    r = run_cli("simulate", "protocol", path, "--natural-history", "covid19", "--effect", "or=1.6", "-n", "1000",
                "--json")
    assert r.code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["power"] > 0.7
    assert d["expected_events"] > 0
    assert any("virtual patients' paths" in n for n in d["notes"])


def test_mesoblast_like_protocol_can_be_simulated(run_cli, examples):
    """examples/mesoblast-like.yaml is the design of mesoblast-like-design.json as a protocol file."""
    design = json.loads((examples / "mesoblast-like-design.json").read_text(encoding="utf-8"))
    r = run_cli("simulate", "protocol", examples / "mesoblast-like.yaml", "--effect", "none", "-n", "3000", "--json")
    assert r.code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["design"]["information_rates"] == design["information_rates"]
    assert d["scenario"]["comparison"] == "remestemcel vs placebo"
    assert abs(d["type_i_error"] - 0.025) < 4 * d["mc_se"]
    r = run_cli("simulate", "protocol", examples / "mesoblast-like.yaml", "-n", "2000", "--json")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["power"] > 0.8  # sized for 240, the protocol's target is 300
