"""Out-of-range options and numbers refused with one line (exit 2), and databases never created by mistake.

The cases come from the adversarial run of issue 14 and this module's own extension of them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = ROOT / "examples" / "covid19-msc-rct.yaml"
DEMO = ROOT / "examples" / "data" / "msc-rct-demo.csv"
LOOKS = ROOT / "examples" / "mesoblast-like-interim.csv"


def _refused(result: object, message: str) -> None:
    code, out, err = result.code, result.stdout, result.stderr  # type: ignore[attr-defined]
    assert code == 2, (code, out, err)
    assert message in out + err, out + err
    assert "internal error" not in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("args", "message"), [
    (["analyze", "interim", "--looks", LOOKS, "--better", "lower", "--info-rates", "0.6,0.3,1"], "must increase"),
    (["analyze", "interim", "--looks", LOOKS, "--better", "lower", "--info-rates", "0.3,0.6,0.9"], "with rate 1"),
    (["analyze", "interim", "--looks", LOOKS, "--better", "lower", "--info-rates", "0,0.5,1"], "above 0"),
    (["analyze", "interim", "--looks", LOOKS, "--better", "lower", "--info-rates", "0.5,nan,1"], "above 0"),
    (["analyze", "interim", "--looks", LOOKS, "--better", "lower", "--info-rates", "0.5,1", "--alpha", "0.7"],
     "alpha"),
    (["analyze", "interim", "--looks", LOOKS, "--better", "lower", "--info-rates", "0.3,0.6,1", "--cp-futility", "5"],
     "--cp-futility"),
    (["analyze", "interim", "--looks", LOOKS, "--better", "lower", "--info-rates", "0.3,0.6,1", "--max-information",
      "0"], "--max-information"),
    (["analyze", "interim", "--looks", LOOKS, "--better", "lower", "--info-rates", "0.3,0.6,1", "--max-information",
      "inf"], "--max-information"),
    (["analyze", "interim", "--protocol", PROTOCOL, "--data", DEMO, "--planned-n", "-5"], "--planned-n"),
    (["simulate", "platform", "--rates", "0.2,0.2", "--looks", "100:1000000000:1"], "at most 1,000"),
    (["simulate", "platform", "--rates", "0.2,0.2", "--looks", "100:2000000:10000"], "at most 1,000,000"),
    (["simulate", "platform", "--rates", "0.2,0.2", "--looks", "200,100"], "must be positive and increase"),
    (["simulate", "platform", "--rates", "0.2,0.2", "--looks", "0:100:50"], "must be positive and increase"),
    (["simulate", "platform", "--rates", "0.2,0.2", "--looks", "100:200:50", "--seed", "-1"], "--seed"),
    (["simulate", "protocol", PROTOCOL, "--seed", "-1"], "--seed"),
    (["simulate", "protocol", PROTOCOL, "-n", "100000000"], "--n-trials"),
    (["serve", "--port", "73926"], "--port"),
    (["serve", "--port", "-1"], "--port"),
    (["serve", "--port", "0"], "--port"),
    (["demo", "--port", "70000", "--no-serve"], "--port"),
    (["analyze", "ordinal", "--data", DEMO, "--outcome", "who_day28", "--control", "placebo", "--better", "lower",
      "--important", "-3"], "--important"),
    (["analyze", "ordinal", "--data", DEMO, "--outcome", "who_day28", "--control", "placebo", "--better", "lower",
      "--prior-sd", "0"], "--prior-sd"),
    (["analyze", "binary", "--data", DEMO, "--outcome", "died", "--control", "placebo", "--better", "lower",
      "--prior-sd", "nan"], "--prior-sd"),
    (["analyze", "survival", "--data", DEMO, "--time", "age", "--event", "died", "--control", "placebo",
      "--horizon", "inf"], "--horizon"),
    (["analyze", "survival", "--data", DEMO, "--time", "age", "--event", "died", "--control", "placebo",
      "--horizon", "-5"], "--horizon"),
    (["simulate", "single-arm", ROOT / "examples" / "covid19-msc-single-arm.yaml", "-n", "5", "--harm", "inf"],
     "--harm"),
])
def test_an_out_of_range_option_is_refused(run_cli, args, message):
    _refused(run_cli(*args), message)


def test_schema_output_to_a_directory_is_refused(run_cli, tmp_path):
    _refused(run_cli("protocol", "schema", "-o", tmp_path), "--output: cannot write")


def test_report_output_to_a_directory_is_refused(run_cli, tmp_path):
    _refused(run_cli("report", "dmc", "--protocol", PROTOCOL, "--data", DEMO, "-o", tmp_path), "is a directory")
    _refused(run_cli("report", "open", "--protocol", PROTOCOL, "--data", DEMO, "-o", tmp_path / "r.html",
                     "--pdf", tmp_path), "--pdf")


@pytest.mark.parametrize(("edit", "message"), [
    (("allocation: 1\n", "allocation: 1e300\n"), "must be <= 1000"),
    (("allocation: 1\n", "allocation: .inf\n"), "must be a finite number"),
    (("allocation: 1\n", "allocation: .nan\n"), "must be a finite number"),
    (("{id: day3, day: 3,", "{id: day3, day: 1000000000000000000,"), "must be <= 36500"),
    (("{id: day3, day: 3,", "{id: day3, day: 1.0e+18,"), "must be <= 36500"),
    (("window: [0, 1]", "window: [0, 99999999999]"), "must be <= 36500"),
    (("day: 28", "day: 99999999"), "must be <= 36500"),
])
def test_a_protocol_number_out_of_range_is_refused_at_validation(run_cli, tmp_path, edit, message):
    text = PROTOCOL.read_text(encoding="utf-8")
    assert edit[0] in text
    path = tmp_path / "p.yaml"
    path.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    line = text[: text.index(edit[0])].count("\n") + 1
    result = run_cli("protocol", "validate", path)
    _refused(result, message)
    assert f"{path}:{line} " in result.stdout, result.stdout


def test_a_huge_number_anywhere_in_a_protocol_is_refused(run_cli, tmp_path):
    text = PROTOCOL.read_text(encoding="utf-8")
    assert "range: [0, 120]" in text
    path = tmp_path / "p.yaml"
    path.write_text(text.replace("range: [0, 120]", "range: [-1.0e+200, 120]", 1), encoding="utf-8")
    _refused(run_cli("protocol", "validate", path), "is out of range")


def test_a_mistyped_database_path_is_never_created(run_cli, tmp_path):
    missing = tmp_path / "typo.sqlite3"
    for args in (["audit", "verify"], ["trial", "list"], ["user", "list"], ["allocation", "replay"],
                 ["export", "csv", "MSC-COVID-RCT", "-o", tmp_path / "out"],
                 ["analyze", "protocol", "--trial", "MSC-COVID-RCT"]):
        result = run_cli(*args, "--db", f"sqlite:///{missing}")
        _refused(result, "no database at")
        assert "does not exist" in result.stderr
        assert not missing.exists(), args
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    _refused(run_cli("audit", "verify", "--db", empty), "is not an Equipoise database")


def test_trial_create_with_a_missing_or_bad_file_creates_no_database(run_cli, tmp_path):
    db = tmp_path / "new.sqlite3"
    _refused(run_cli("trial", "create", "/missing.yaml", "--db", f"sqlite:///{db}"), "/missing.yaml: no such file")
    assert not db.exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("trial: {}\n", encoding="utf-8")
    result = run_cli("trial", "create", bad, "--db", f"sqlite:///{db}")
    assert result.code == 2
    assert not db.exists()
    assert run_cli("trial", "create", PROTOCOL, "--db", f"sqlite:///{db}").code == 0
    assert run_cli("audit", "verify", "--db", f"sqlite:///{db}").code == 0


def test_an_unreachable_postgresql_is_one_line(run_cli):
    result = run_cli("audit", "verify", "--db", "postgresql://nobody@127.0.0.1:1/nothing")
    _refused(result, "--db: cannot use the database postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    assert len(result.stderr.strip().splitlines()) == 1
