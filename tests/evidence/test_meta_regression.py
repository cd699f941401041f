"""Meta-regression on a categorical moderator against metafor's rma(yi, vi, mods = ~ factor(g), method = M):
tests/reference/meta_regression.R on the metadat datasets with a subgroup column (bcg, linde2005, anand1999,
axfors2021, damico2009, curtis1998, raudenbush1985, baskerville2012, hackshaw1998), every tau^2 estimator and FE.
Tolerances as for the pooled models: 1e-6, 1e-5 where tau^2 is iterative (REML, ML, EB, PM)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from equipoise.errors import UserError
from equipoise.evidence.effect_sizes import Measure
from equipoise.evidence.meta_regression import categorical_moderator
from equipoise.evidence.pooled import Method
from tests.conftest import CliResult
from tests.evidence.metafor_cases import table

FIXTURE = Path(__file__).resolve().parents[1] / "reference" / "fixtures" / "meta_regression.json"
CASES: list[dict[str, Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"]
ITERATIVE = {"REML", "ML", "EB", "PM"}

RunCli = Callable[..., CliResult]


def test_the_fixture_covers_every_estimator_and_dataset() -> None:
    assert len(CASES) == 135
    assert {c["method"] for c in CASES} == {m.value for m in Method} - {"MH", "Peto"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['dataset']}-{c['measure']}-{c['method']}")
def test_against_metafor(case: dict[str, Any]) -> None:
    result = categorical_moderator(table(case["dataset"]), Measure(case["measure"]), Method(case["method"]))
    tol = 1e-5 if case["method"] in ITERATIVE else 1e-6
    assert list(result.levels) == case["levels"]
    assert result.k == case["k"]
    assert result.tau2 == pytest.approx(case["tau2"], abs=tol)
    assert [c.estimate for c in result.coefficients] == pytest.approx(case["b"], abs=tol)
    assert [c.se for c in result.coefficients] == pytest.approx(case["se"], abs=tol)
    assert result.qm == pytest.approx(case["qm"], rel=tol, abs=tol)
    assert result.qm_df == case["qm_df"]
    assert result.qm_p == pytest.approx(case["qm_p"], rel=tol, abs=1e-9)
    assert result.qe == pytest.approx(case["qe"], rel=1e-9)
    assert result.qe_p == pytest.approx(case["qe_p"], rel=1e-6, abs=1e-12)


def test_bad_requests_are_user_errors() -> None:
    with pytest.raises(UserError, match="by inverse variance"):
        categorical_moderator(table("bcg"), Measure.RR, Method.MH)
    with pytest.raises(UserError, match="subgroup column"):
        categorical_moderator(table("collins1985a"), Measure.RR)


def test_summary_names_the_test() -> None:
    result = categorical_moderator(table("bcg"), Measure.RR, Method.REML)
    text = str(result)
    assert "Test of moderators: QM(2)" in text
    assert "random vs alternate" in text
    assert result.to_dict()["reference_level"] == "alternate"


def test_cli(run_cli: RunCli, examples: Path) -> None:
    """The BCG trials by allocation: metafor's documented mixed-effects example gives QM(2) = 1.7675, p = 0.4132."""
    res = run_cli("evidence", "meta-regression", examples / "evidence" / "bcg-vaccine.csv", "--by", "subgroup",
                  "--json")
    assert res.code == 0, res.stderr
    d = json.loads(res.stdout)
    assert (round(d["qm"], 4), d["qm_df"], round(d["qm_p"], 4)) == (1.7675, 2, 0.4132)
    bad = run_cli("evidence", "meta-regression", examples / "evidence" / "bcg-vaccine.csv", "--by", "subgroup",
                  "--method", "MH")
    assert bad.code == 2
    assert "by inverse variance" in bad.stderr
