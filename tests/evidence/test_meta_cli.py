"""``equipoise evidence meta`` through its real entry point: the JSON keys of the issue, the plots, and clear
errors (file, line, column; exit code 2) for bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult

RunCli = Callable[..., CliResult]
HEADER = "study,year,subgroup,events_treatment,n_treatment,events_control,n_control\n"


def _write(tmp_path: Path, text: str, name: str = "trials.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_bcg_reml_hksj_json_has_the_issue_keys(run_cli: RunCli, examples: Path, tmp_path: Path) -> None:
    forest = tmp_path / "forest.png"
    res = run_cli("evidence", "meta", examples / "evidence" / "bcg-vaccine.csv", "--measure", "RR", "--method",
                  "REML", "--hksj", "--by", "subgroup", "--cumulative", "--egger", "--plot", forest, "--json")
    assert res.code == 0, res.stderr
    d = json.loads(res.stdout)
    for key in ("estimate", "ci_low", "ci_high", "k", "tau2", "tau2_ci_low", "tau2_ci_high", "i2", "q", "pi_low",
                "pi_high", "subgroups", "q_between", "p_between", "steps", "egger_z", "egger_p"):
        assert key in d, key
    # metafor: rma(measure="RR", ai=tpos, ..., data=dat.bcg, test="knha") -> exp(-0.7145) = 0.4894
    assert d["estimate"] == pytest.approx(0.489420936788, abs=1e-9)
    assert d["i2"] == pytest.approx(92.2213860750, abs=1e-6)
    assert d["k"] == 13
    assert [s["name"] for s in d["subgroups"]] == ["random", "alternate", "systematic"]
    assert {"name", "estimate", "ci_low", "ci_high", "k"} <= set(d["subgroups"][0])
    assert len(d["steps"]) == 13
    assert d["steps"][0]["study"] == "Aronson"
    assert {"study", "k", "estimate", "ci_low", "ci_high"} <= set(d["steps"][0])
    assert forest.stat().st_size > 10_000


def test_readable_summary_names_the_method_and_reference(run_cli: RunCli, examples: Path) -> None:
    res = run_cli("evidence", "meta", examples / "evidence" / "bcg-vaccine.csv", "--method", "MH")
    assert res.code == 0, res.stderr
    assert "Mantel-Haenszel" in res.stdout
    assert "Robins, Breslow & Greenland 1986" in res.stdout
    assert "Pooled risk ratio: 0.635" in res.stdout


def test_zero_cells_are_stated(run_cli: RunCli, tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "A,2001,x,0,50,3,50\nB,2002,x,0,40,0,40\nC,2003,x,4,60,9,61\n")
    res = run_cli("evidence", "meta", path, "--measure", "OR", "--method", "DL", "--json")
    assert res.code == 0, res.stderr
    d = json.loads(res.stdout)
    assert d["zero_cells"].startswith("add 0.5 to every cell of trials with a zero cell; double-zero trials kept")
    assert "corrected: A, B" in d["zero_cells"]
    res = run_cli("evidence", "meta", path, "--measure", "OR", "--method", "DL", "--drop00", "--json")
    d = json.loads(res.stdout)
    assert d["k"] == 2
    assert "dropped: B" in d["zero_cells"]


def test_column_mapping_and_generic_estimates(run_cli: RunCli, tmp_path: Path) -> None:
    path = _write(tmp_path, "trial,logrr,stderr\nA,-0.5,0.2\nB,-0.1,0.3\nC,-0.3,0.25\n")
    res = run_cli("evidence", "meta", path, "--measure", "RR", "--method", "FE", "--column", "study=trial",
                  "--column", "estimate=logrr", "--column", "se=stderr", "--json")
    assert res.code == 0, res.stderr
    d = json.loads(res.stdout)
    w = [1 / 0.2**2, 1 / 0.3**2, 1 / 0.25**2]
    pooled = sum(wi * y for wi, y in zip(w, [-0.5, -0.1, -0.3], strict=True)) / sum(w)
    assert d["log_estimate"] == pytest.approx(pooled)
    assert d["tau2_ci_low"] is None


@pytest.mark.parametrize(("text", "args", "message"), [
    (HEADER + "A,2001,x,5,50,3,50\nB,2002,x,five,40,2,40\n", (), "line 3, column events_treatment: 'five' is not"),
    (HEADER + "A,2001,x,55,50,3,50\n", (), "line 2, column events_treatment: 55 events among 50 patients"),
    (HEADER + "A,2001,x,5,50,3,50,9\n", (), "line 2: more values than header columns"),
    (HEADER + "A,2001,x,-1,50,3,50\n", (), "line 2, column events_treatment: '-1' is not a count"),
    (HEADER + ",2001,x,1,50,3,50\n", (), "line 2, column study: the trial has no name"),
    (HEADER, (), "has a header but no trials"),
    ("", (), "the file is empty"),
    ("study,events_treatment\nA,1\n", (), "missing: n_treatment, events_control, n_control"),
    (HEADER + "A,2001,x,5,50,3,50\n", ("--by", "region"), "--by:"),
    (HEADER + "A,2001,x,5,50,3,50\n", ("--method", "Peto"), "Peto's method estimates an odds ratio"),
    (HEADER + "A,2001,x,5,50,3,50\n", ("--method", "MH", "--hksj"), "--hksj applies to random-effects"),
    (HEADER + "A,2001,x,5,50,3,50\n", ("--add-to", "some"), "--add-to: 'some' is not one of"),
    (HEADER + "A,2001,x,5,50,3,50\n", ("--favours", "one"), "--favours"),
    (HEADER + "A,2001,x,5,50,3,50\nB,2002,x,2,10,1,10\n", ("--egger",), "Egger's test needs at least 3 trials"),
])
def test_bad_input_is_one_clear_line(run_cli: RunCli, tmp_path: Path, text: str, args: tuple[str, ...],
                                     message: str) -> None:
    path = _write(tmp_path, text)
    res = run_cli("evidence", "meta", path, *args)
    assert res.code == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr


def test_missing_file(run_cli: RunCli, tmp_path: Path) -> None:
    res = run_cli("evidence", "meta", tmp_path / "none.csv")
    assert res.code == 2
    assert "file not found" in res.stderr


def test_binary_file_is_not_a_csv(run_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"\xff\xfe\x00\x01\x80\x81")
    res = run_cli("evidence", "meta", path)
    assert res.code == 2
    assert "not a UTF-8 text CSV" in res.stderr


def test_trial_without_data_is_left_out_and_named(run_cli: RunCli, tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "A,2001,x,5,50,3,50\nB,2002,x,,40,2,40\nC,2003,x,4,60,9,61\n")
    res = run_cli("evidence", "meta", path, "--method", "DL", "--json")
    assert res.code == 0, res.stderr
    d = json.loads(res.stdout)
    assert d["k"] == 2
    assert d["trials_without_data"] == ["B"]


def test_all_plots_are_written(run_cli: RunCli, examples: Path, tmp_path: Path) -> None:
    paths = [tmp_path / "f.png", tmp_path / "u.png", tmp_path / "c.png"]
    res = run_cli("evidence", "meta", examples / "evidence" / "bcg-vaccine.csv", "--plot", paths[0], "--funnel",
                  paths[1], "--cumulative-plot", paths[2])
    assert res.code == 0, res.stderr
    assert all(p.stat().st_size > 5_000 for p in paths)


def test_msc_example_shows_the_early_effect_shrinking(run_cli: RunCli, examples: Path) -> None:
    """examples/evidence/msc-covid-mortality.csv: after two small trials the DL risk ratio is 0.19 (CI below 1);
    with the larger trials it shrinks towards 0.69."""
    res = run_cli("evidence", "meta", examples / "evidence" / "msc-covid-mortality.csv", "--method", "DL",
                  "--cumulative", "--json")
    assert res.code == 0, res.stderr
    steps = json.loads(res.stdout)["steps"]
    assert [s["study"] for s in steps] == ["Shu 2020", "Lanzoni 2021", "Dilogo 2021", "Bowdish 2023",
                                           "Zarrabi 2023"]
    # Shu 2020 has a zero cell: 0.5 added to each cell (metafor's default)
    assert steps[0]["estimate"] == pytest.approx((0.5 / 13) / (3.5 / 30))
    assert steps[1]["ci_high"] < 1
    assert steps[1]["estimate"] < steps[2]["estimate"] < steps[3]["estimate"]
    assert steps[4]["estimate"] == pytest.approx(0.685, abs=5e-4)
