"""Pooled estimates, intervals, tau^2 (with its Q-profile CI), I^2, H^2, Q, prediction intervals, Egger's test,
subgroup tests, cumulative and leave-one-out steps against metafor 3.8-1 on 25 metadat datasets
(tests/reference/meta.R): 1e-6, and 1e-5 for the iterative estimators (ML, REML, PM, EB) and the Q-profile
interval; relative for values above 1."""

from __future__ import annotations

import math
from typing import Any

import pytest

from equipoise.evidence.egger import egger_test
from equipoise.evidence.pooled import Pooled
from equipoise.evidence.sensitivity import cumulative, leave_one_out
from equipoise.evidence.study_table import fit_model
from equipoise.evidence.subgroups import subgroup_analysis
from tests.evidence.metafor_cases import ITERATIVE, case_id, case_rule, fixture, measure_of, method_of, table

CASES = fixture()["cases"]


def _close(ours: float, theirs: Any, tol: float, what: str) -> None:
    if theirs is None:
        assert ours is None or not math.isfinite(ours), f"{what}: metafor NA, ours {ours}"
        return
    assert ours is not None, f"{what}: ours None, metafor {theirs}"
    assert math.isfinite(ours), f"{what}: ours {ours}, metafor {theirs}"
    assert abs(ours - theirs) <= tol * max(1.0, abs(theirs)), f"{what}: ours {ours!r}, metafor {theirs!r}"


def _check(pooled: Pooled, ref: dict[str, Any], tol: float, where: str) -> None:
    _close(pooled.beta, ref["beta"], tol, f"{where} beta")
    _close(pooled.se, ref["se"], tol, f"{where} se")
    _close(pooled.ci_lb, ref["ci_lb"], tol, f"{where} ci_lb")
    _close(pooled.ci_ub, ref["ci_ub"], tol, f"{where} ci_ub")
    _close(pooled.tau2, ref["tau2"], tol, f"{where} tau2")
    _close(pooled.i2, ref["i2"], tol * 100, f"{where} I2")
    _close(pooled.h2, ref["h2"], tol, f"{where} H2")
    _close(pooled.q, ref["q"], tol, f"{where} Q")
    _close(pooled.pi_lb, ref["pi_lb"], tol, f"{where} pi_lb")
    _close(pooled.pi_ub, ref["pi_ub"], tol, f"{where} pi_ub")
    _close(pooled.statistic, ref["stat"], tol, f"{where} z/t")
    assert pooled.k == ref["k"], f"{where} k"
    if "tau2_ci_lb" in ref:
        _close(pooled.tau2_ci_lb, ref["tau2_ci_lb"], 1e-5, f"{where} tau2 CI low")
        _close(pooled.tau2_ci_ub, ref["tau2_ci_ub"], 1e-5, f"{where} tau2 CI high")


def _check_steps(steps: tuple[Any, ...], ref: list[dict[str, Any]], tol: float, where: str) -> None:
    assert len(steps) == len(ref), where
    for i, (ours, theirs) in enumerate(zip(steps, ref, strict=True)):
        p = ours.pooled
        if theirs["estimate"] is None:
            assert p is None, f"{where}[{i}]: metafor could not fit this step, we did"
            continue
        assert p is not None, f"{where}[{i}]: {ours.problem}"
        _close(p.beta, theirs["estimate"], tol, f"{where}[{i}] estimate")
        _close(p.ci_lb, theirs["ci_lb"], tol, f"{where}[{i}] ci_lb")
        _close(p.ci_ub, theirs["ci_ub"], tol, f"{where}[{i}] ci_ub")
        _close(p.tau2, theirs["tau2"], tol, f"{where}[{i}] tau2")
        _close(p.q, theirs["q"], tol, f"{where}[{i}] Q")


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_against_metafor(case: dict[str, Any]) -> None:
    method, measure = method_of(case), measure_of(case)
    tol = 1e-5 if method in ITERATIVE else 1e-6
    data = table(case["dataset"])
    rule = case_rule(case, method)
    pooled = fit_model(data, measure, method, case["hksj"], rule)
    _check(pooled, case["result"], tol, "pooled")
    if "egger" in case:
        egger = egger_test(pooled)
        _close(egger.statistic, case["egger"]["stat"], tol, "Egger statistic")
        _close(egger.p_value, case["egger"]["p"], tol, "Egger p")
    if "cumulative" in case:
        _check_steps(cumulative(data, measure, method, case["hksj"], rule), case["cumulative"], tol, "cumul")
    if "leave1out" in case:
        _check_steps(leave_one_out(data, measure, method, case["hksj"], rule), case["leave1out"], tol, "leave1out")
    if "subgroups" in case:
        sub = subgroup_analysis(data, measure, method, case["hksj"], rule)
        ref = case["subgroups"]
        for ours, theirs in zip(sub.subgroups, ref["groups"], strict=True):
            assert ours.name == theirs["name"]
            _check(ours.pooled, theirs, tol, f"subgroup {ours.name}")
        _close(sub.q_between, ref["q_between"], tol, "Q between")
        _close(sub.p_between, ref["p_between"], tol, "p between")


def test_fixture_covers_the_issue() -> None:
    """At least 25 datasets, every measure and method, zero cells and double-zero trials."""
    data = fixture()
    assert len(data["datasets"]) >= 25
    seen = {(c["measure"], c["method"], c["hksj"]) for c in CASES}
    for method in ("FE", "DL", "REML", "ML", "PM", "SJ", "HE", "HS", "EB"):
        for measure in ("RR", "OR", "RD", "MD", "SMD", "GEN"):
            assert (measure, method, False) in seen
    assert {("RR", "MH", False), ("OR", "MH", False), ("RD", "MH", False), ("OR", "Peto", False)} <= seen
    double_zero = [d["name"] for d in data["datasets"] if d["kind"] == "binary" and any(
        a == 0 and c == 0 for a, c in zip(d["values"]["events_treatment"], d["values"]["events_control"],
                                          strict=True))]
    assert double_zero, "no dataset with a double-zero trial"
