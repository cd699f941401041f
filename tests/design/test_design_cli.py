"""The ``equipoise design`` commands, run through the real entry point."""

from __future__ import annotations

import json

import numpy as np
import pytest

from equipoise.design import gsd, sample_size
from tests.design.conftest import fixture


def test_gsd_command_json_matches_the_api(run_cli):
    res = run_cli("design", "gsd", "--looks", "3", "--alpha", "0.025", "--sided", "1", "--spending", "obf", "--json")
    assert res.code == 0, res.stderr
    data = json.loads(res.stdout)
    for key in ("upper", "lower", "cumulative_alpha", "inflation_factor"):
        assert key in data
    assert data["lower"] is None
    np.testing.assert_allclose(data["upper"], gsd(looks=3).upper, rtol=0, atol=1e-12)
    np.testing.assert_allclose(data["upper"], [3.7103028733, 2.5114274845, 1.9930474833], atol=1e-6)


def test_gsd_command_readable_table_with_futility(run_cli):
    res = run_cli("design", "gsd", "--looks", "3", "--spending", "hsd", "--gamma", "-4", "--info-rates", "0.3,0.7,1",
                  "--beta", "0.2", "--futility-spending", "pocock", "--binding")
    assert res.code == 0, res.stderr
    assert "upper" in res.stdout
    assert "lower" in res.stdout
    assert "Inflation factor" in res.stdout
    assert "binding" in res.stdout


def test_gsd_command_two_sided_and_constant_names(run_cli):
    res = run_cli("design", "gsd", "--looks", "4", "--alpha", "0.05", "--sided", "2", "--spending", "oF-constant",
                  "--json")
    assert res.code == 0, res.stderr
    data = json.loads(res.stdout)
    np.testing.assert_allclose(data["lower"], -np.asarray(data["upper"]))
    assert abs(data["upper"][-1] - 2.024) < 5e-4  # J&T table 2.3


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--alpha", "0"], "alpha"),
        (["--looks", "0"], "looks"),
        (["--info-rates", "0.5,0.3,1"], "increasing"),
        (["--info-rates", "0.5,x,1"], "--info-rates"),
        (["--spending", "linear"], "boundary family"),
        (["--spending", "hsd"], "gamma"),
        (["--beta", "1.5"], "beta"),
        (["--binding"], "binding"),
        (["--sided", "3"], "sided"),
    ],
)
def test_gsd_bad_arguments_exit_2_with_one_line(run_cli, args, fragment):
    res = run_cli("design", "gsd", *args)
    assert res.code == 2
    assert fragment in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_sample_size_binary_as_in_the_issue(run_cli):
    res = run_cli("design", "sample-size", "--outcome", "binary", "--p-control", "0.40", "--p-treatment", "0.23",
                  "--looks", "3", "--json")
    assert res.code == 0, res.stderr
    data = json.loads(res.stdout)
    expected = sample_size("binary", design=gsd(looks=3), p_control=0.4, p_treatment=0.23)
    assert data["n_total"] == pytest.approx(expected.n_total, rel=1e-12)
    assert set(data["n_per_arm"]) == {"experimental", "control"}
    assert len(data["n_per_look"]) == 3


def test_sample_size_continuous_and_fixed_design(run_cli):
    res = run_cli("design", "sample-size", "--outcome", "continuous", "--delta", "0.4", "--sd", "1", "--alpha", "0.05",
                  "--sided", "2", "--power", "0.9", "--ratio", "2:1", "--json")
    assert res.code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["looks"] == 1
    assert data["n_per_arm"]["experimental"] == pytest.approx(2 * data["n_per_arm"]["control"])
    readable = run_cli("design", "sample-size", "--outcome", "continuous", "--delta", "0.4")
    assert "n_total" in readable.stdout


def test_sample_size_time_to_event_prints_events(run_cli, tmp_path):
    plot = tmp_path / "tte.png"
    res = run_cli("design", "sample-size", "--outcome", "time-to-event", "--hazard-ratio", "0.7", "--median-control",
                  "12", "--accrual", "12", "--follow-up", "12", "--looks", "3", "--plot", plot)
    assert res.code == 0, res.stderr
    assert "Events:" in res.stdout
    assert "n_total" in res.stdout
    assert plot.stat().st_size > 1000
    data = json.loads(run_cli("design", "sample-size", "--outcome", "time-to-event", "--hazard-ratio", "0.7",
                              "--median-control", "12", "--accrual", "12", "--follow-up", "12", "--json").stdout)
    assert data["events"] == pytest.approx(246.78710455, rel=1e-8)
    assert data["n_total"] == pytest.approx(428.59621209, rel=1e-8)


def test_sample_size_ordinal_as_in_the_issue(run_cli):
    res = run_cli("design", "sample-size", "--outcome", "ordinal", "--p-control", "0.2,0.5,0.2,0.1", "--odds-ratio",
                  "2.5", "--alpha", "0.05", "--sided", "2", "--json")
    assert res.code == 0, res.stderr
    assert json.loads(res.stdout)["n_total"] == pytest.approx(130.84, abs=0.005)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--outcome", "binary", "--p-control", "1.4", "--p-treatment", "0.2"], "p_control"),
        (["--outcome", "binary", "--p-control", "0.4", "--p-treatment", "-0.1"], "p_treatment"),
        (["--outcome", "binary", "--p-control", "0.4", "--p-treatment", "0.2", "--power", "1.2"], "power"),
        (["--outcome", "binary", "--p-control", "0.4", "--p-treatment", "0.2", "--alpha", "0"], "alpha"),
        (["--outcome", "binary", "--p-control", "0.4", "--p-treatment", "0.2", "--looks", "0"], "looks"),
        (["--outcome", "binary", "--p-control", "0.4", "--p-treatment", "0.2", "--delta", "1"], "--delta"),
        (["--outcome", "ordinal", "--p-control", "0.2,0.5", "--odds-ratio", "2"], "sum to 1"),
        (["--outcome", "weird"], "--outcome"),
        (["--outcome", "continuous", "--delta", "0.5", "--ratio", "-1"], "ratio"),
        (["--outcome", "time-to-event", "--hazard-ratio", "0.7", "--median-control", "12"], "accrual"),
    ],
)
def test_sample_size_bad_arguments_exit_2(run_cli, args, fragment):
    res = run_cli("design", "sample-size", *args)
    assert res.code == 2
    assert fragment in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_power_command_recovery(run_cli):
    res = run_cli("design", "power", "--outcome", "binary", "--n-total", "6000", "--ratio", "1:2", "--p-control", "0.2",
                  "--p-treatment", "0.16", "--alpha", "0.01", "--sided", "2", "--variance", "unpooled", "--json")
    assert res.code == 0, res.stderr
    assert round(json.loads(res.stdout)["power"], 3) == 0.901


def test_protocol_command_rct(run_cli, examples, tmp_path):
    res = run_cli("design", "protocol", examples / "covid19-msc-rct.yaml", "--json")
    assert res.code == 0, res.stderr
    data = json.loads(res.stdout)
    primary = data["primary"]
    assert primary["outcome"] == "ordinal"
    assert primary["looks"] == 3
    assert primary["design"]["spending"] == "obf"
    assert primary["design"]["futility_spending"] == "hsd"
    assert primary["design"]["binding"] is False
    expected = gsd(information_rates=[0.33, 0.67, 1.0], alpha=0.025, sided=1, beta=0.1, futility_spending="hsd",
                   futility_gamma=-2)
    np.testing.assert_allclose(primary["design"]["upper"], expected.upper)
    assert 300 < primary["n_total"] < 1500
    readable = run_cli("design", "protocol", examples / "covid19-msc-rct.yaml", "--plot", tmp_path / "rct.svg")
    assert readable.code == 0, readable.stderr
    assert "upper" in readable.stdout or "z upper" in readable.stdout
    assert (tmp_path / "rct.svg").exists()


def test_protocol_command_platform(run_cli, examples):
    res = run_cli("design", "protocol", examples / "covid19-platform.yaml", "--json")
    assert res.code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["ratio"] == pytest.approx(0.5)  # one experimental arm : usual care = 1 : 2
    primary = data["primary"]
    assert primary["sided"] == 2
    assert primary["alpha"] == 0.01
    assert primary["power"] == pytest.approx(0.9)
    arms = primary["n_per_arm"]
    assert arms["control"] == pytest.approx(2 * arms["experimental"])
    # RECOVERY's protocol: about 2000 vs 4000 for 90% power at 20% -> 16%
    assert 1900 < arms["experimental"] < 2200
    assert data["trial_total"] > primary["n_total"]


def test_protocol_command_single_arm_is_a_clear_error(run_cli, examples):
    res = run_cli("design", "protocol", examples / "covid19-msc-single-arm.yaml")
    assert res.code == 2
    assert "single-arm" in res.stderr
    assert "control" in res.stderr
    assert "Traceback" not in res.stderr


def test_protocol_command_missing_file(run_cli, tmp_path):
    res = run_cli("design", "protocol", tmp_path / "nope.yaml")
    assert res.code == 2


def test_sample_size_with_a_non_inferiority_margin(run_cli):
    """--margin with --better gives rpact's thetaH0 (+margin when lower is better, -margin when higher is), and the
    same numbers as the API validated in test_noninferiority_vs_rpact.py."""
    cases = {json.dumps(c["params"], sort_keys=True): c["rpact"] for c in fixture("design_noninferiority.json")["cases"]
             if c["design"]["looks"] == 1}
    res = run_cli("design", "sample-size", "--outcome", "binary", "--p-control", "0.2", "--p-treatment", "0.2",
                  "--margin", "0.1", "--better", "lower", "--json")
    assert res.code == 0, res.stderr
    d = json.loads(res.stdout)
    ref = cases[json.dumps({"p_control": 0.2, "p_treatment": 0.2, "theta_h0": 0.1, "ratio": 1}, sort_keys=True)]
    assert d["n_total"] == pytest.approx(ref["n_total"], rel=1e-5)
    assert d["assumptions"]["theta_h0"] == 0.1
    res = run_cli("design", "sample-size", "--outcome", "continuous", "--delta", "0", "--sd", "1", "--margin", "0.3",
                  "--better", "higher", "--json")
    assert json.loads(res.stdout)["assumptions"]["theta_h0"] == -0.3
    res = run_cli("design", "sample-size", "--outcome", "time-to-event", "--hazard-ratio", "1", "--margin", "1.3")
    assert res.code == 0, res.stderr
    assert "non-inferiority: H0 hazard ratio >= 1.3" in res.stdout


@pytest.mark.parametrize(("args", "fragment"), [
    (("--outcome", "binary", "--p-control", "0.2", "--p-treatment", "0.2", "--margin", "0.1"), "--better"),
    (("--outcome", "binary", "--p-control", "0.2", "--p-treatment", "0.2", "--margin", "-0.1", "--better", "lower"),
     "positive"),
    (("--outcome", "binary", "--p-control", "0.2", "--p-treatment", "0.2", "--margin", "0.1", "--better", "lower",
      "--sided", "2", "--alpha", "0.05"), "one-sided"),
    (("--outcome", "time-to-event", "--hazard-ratio", "1", "--margin", "1"), "not 1"),
    (("--outcome", "ordinal", "--p-control", "0.5,0.5", "--odds-ratio", "2", "--margin", "1.2"), "binary"),
    (("--outcome", "binary", "--p-control", "0.2", "--p-treatment", "0.1", "--better", "lower"), "only with"),
])
def test_sample_size_margin_refusals_are_one_line(run_cli, args, fragment):
    res = run_cli("design", "sample-size", *args)
    assert res.code == 2
    assert fragment in res.stderr
    assert "Traceback" not in res.stderr
