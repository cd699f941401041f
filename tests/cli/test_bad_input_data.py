"""Broken analysis inputs (CSV files and looks tables) refused with one line and exit 2, never a silent result.

The cases come from the adversarial run of issue 14 and this module's own extension of them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = ROOT / "examples" / "covid19-msc-rct.yaml"
DEMO = ROOT / "examples" / "data" / "msc-rct-demo.csv"
BINARY = ["binary", "--outcome", "died", "--control", "placebo"]
CONTINUOUS = ["continuous", "--outcome", "age", "--control", "placebo"]
ORDINAL = ["ordinal", "--outcome", "who_day28", "--control", "placebo"]


def _one_line_refusal(result: object, message: str) -> None:
    code, out, err = result.code, result.stdout, result.stderr  # type: ignore[attr-defined]
    assert code == 2, (code, out, err)
    assert message in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Warning" not in out + err
    assert "Traceback" not in err


def _analyze(run_cli: object, args: list[str], path: Path) -> object:
    return run_cli("analyze", args[0], "--data", path, *args[1:])  # type: ignore[operator]


@pytest.fixture
def demo() -> pd.DataFrame:
    return pd.read_csv(DEMO)


def test_a_constant_outcome_is_refused(run_cli, tmp_path, demo):
    demo["age"] = 50
    demo.to_csv(path := tmp_path / "d.csv", index=False)
    _one_line_refusal(_analyze(run_cli, CONTINUOUS, path), "does not vary within either arm")
    demo.loc[demo["arm"] == "msc", "age"] = 60
    demo.to_csv(path, index=False)
    _one_line_refusal(_analyze(run_cli, CONTINUOUS, path), "does not vary within either arm")


def test_duplicated_patients_are_refused_with_their_ids_and_lines(run_cli, tmp_path, demo):
    pd.concat([demo, demo.head(20)]).to_csv(path := tmp_path / "d.csv", index=False)
    for args in (BINARY, ORDINAL, CONTINUOUS):
        _one_line_refusal(_analyze(run_cli, args, path), "MSC-0001 on lines 2, 242; MSC-0002 on lines 3, 243")
    result = _analyze(run_cli, BINARY, path)
    assert "(and 17 more duplicated ids)" in result.stderr  # type: ignore[attr-defined]
    _one_line_refusal(run_cli("analyze", "protocol", PROTOCOL, "--data", path), "each patient must have one row")


@pytest.mark.parametrize("text", ["NaN", "nan", "-inf", "inf", "Infinity", '"NaN"'])
def test_the_text_nan_is_refused_like_inf(run_cli, tmp_path, text):
    lines = DEMO.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[4].split(",")
    cells[header.index("age")] = text
    lines[4] = ",".join(cells)
    (path := tmp_path / "d.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _one_line_refusal(_analyze(run_cli, CONTINUOUS, path), "line 5: column 'age' = ")
    assert "leave the cell empty for a missing value" in _analyze(run_cli, CONTINUOUS, path).stderr  # type: ignore[attr-defined]


def test_an_empty_cell_is_still_missing(run_cli, tmp_path, demo):
    demo.loc[3, "age"] = None
    demo.to_csv(path := tmp_path / "d.csv", index=False)
    assert _analyze(run_cli, CONTINUOUS, path).code == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize(("sep", "name"), [(";", "semicolons"), ("\t", "tabs")])
def test_another_separator_gets_a_hint(run_cli, tmp_path, demo, sep, name):
    demo.to_csv(path := tmp_path / "d.csv", index=False, sep=sep)
    _one_line_refusal(_analyze(run_cli, BINARY, path), f"its columns look separated by {name}")


def test_an_ordinal_fit_that_cannot_be_identified_is_refused(run_cli, tmp_path, demo):
    two = pd.concat([demo[demo["arm"] == "msc"].head(1), demo[demo["arm"] == "placebo"].head(1)])
    two.loc[two["arm"] == "msc", "who_day28"] = 2
    two.loc[two["arm"] == "placebo", "who_day28"] = 8
    two.to_csv(path := tmp_path / "d.csv", index=False)
    _one_line_refusal(_analyze(run_cli, ORDINAL, path), "cannot be estimated: the arms do not overlap")
    separated = demo.copy()
    separated.loc[separated["arm"] == "msc", "who_day28"] = 3
    separated.loc[separated["arm"] == "placebo", "who_day28"] = 7
    separated.to_csv(path, index=False)
    _one_line_refusal(_analyze(run_cli, ORDINAL, path), "complete separation")


@pytest.mark.parametrize(("table", "message"), [
    ("1,0.3,45,45,45,45", "every patient or none had the event in both arms"),
    ("1,0.3,0,45,0,45", "every patient or none had the event in both arms"),
    ("1,0.3,0,0,0,0", "an arm has no patients at this look"),
    ("1,0.3,5,10,0,0", "an arm has no patients at this look"),
])
def test_a_looks_table_without_an_estimate_is_refused(run_cli, tmp_path, table, message):
    path = tmp_path / "looks.csv"
    path.write_text("look,information_fraction,events_experimental,n_experimental,events_control,n_control\n"
                    f"{table}\n", encoding="utf-8")
    _one_line_refusal(run_cli("analyze", "interim", "--looks", path, "--info-rates", "0.3,0.6,1", "--better",
                              "lower"), message)


@pytest.mark.parametrize(("row", "message"), [
    ("1,0.3,1e308,0.1", "too large to be a Z statistic"),
    ("1,0.3,0.2,0", "se must be positive"),
    ("1,0.3,0.2,1e-320", "too large to be a Z statistic"),
])
def test_a_looks_table_with_an_extreme_estimate_is_refused(run_cli, tmp_path, row, message):
    path = tmp_path / "looks.csv"
    path.write_text(f"look,information_fraction,estimate,se\n{row}\n", encoding="utf-8")
    _one_line_refusal(run_cli("analyze", "interim", "--looks", path, "--info-rates", "0.3,0.6,1"), message)


def test_a_look_with_no_patients_is_refused_not_continued(run_cli, tmp_path, demo):
    demo["look"] = 2
    demo.to_csv(path := tmp_path / "d.csv", index=False)
    result = run_cli("analyze", "interim", "--protocol", PROTOCOL, "--data", path)
    _one_line_refusal(result, "look 1 (0 patients")
    assert "CONTINUE" not in result.stdout


def test_an_adverse_events_file_without_patient_ids_is_refused(run_cli, tmp_path):
    path = tmp_path / "ae.csv"
    path.write_text("&a [*a]patient_id,term,grade\nMSC-0002,acute kidney injury,3\n", encoding="utf-8")
    _one_line_refusal(run_cli("report", "dmc", "--protocol", PROTOCOL, "--data", DEMO, "--adverse-events", path,
                              "-o", tmp_path / "r.html"), "has no column 'patient_id'")


def test_duplicates_in_a_file_whose_rows_outgrow_its_header_are_named_by_line(run_cli, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("patient_id,arm,died\nA,x,msc,0\nA,y,placebo,1\n", encoding="utf-8")
    _one_line_refusal(_analyze(run_cli, BINARY, path), "line 2: more fields than the header's 3")


@pytest.mark.parametrize("content", [b"\r,NaN", b"look,information_fraction,estimate,se\r1,0.3,0.2,0.1\r",
                                     b'a,b\n"x\r'])
def test_bare_carriage_returns_are_line_ends_not_crashes(run_cli, tmp_path, content):
    path = tmp_path / "looks.csv"
    path.write_bytes(content)
    result = run_cli("analyze", "interim", "--looks", path, "--info-rates", "0.3,0.6,1")
    assert result.code in (0, 2)
    assert "internal error" not in result.stderr
