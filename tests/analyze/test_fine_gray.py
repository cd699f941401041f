"""Fine–Gray subdistribution hazards against R (tests/reference/analyze_fine_gray.R): survival::finegray() with
coxph(ties = "breslow", cluster = id) on a simulated trial (censoring only at day 28) and survival::mgus2
(censoring spread over follow-up, many event/censoring ties), unadjusted, adjusted and stratified; cmprsk::crr()
as a second anchor. Tolerances: 1e-6 relative against coxph (it stops at a relative log-likelihood change of
1e-9), 1e-5 against crr's estimate where no censoring ties an event (crr stops at a gradient of 1e-6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from equipoise.analyze.cox import fit_cox
from equipoise.analyze.fine_gray import FineGrayFit, censoring_survival_before, fit_fine_gray
from equipoise.analyze.frame import analyze_survival
from equipoise.errors import UserError

FIXTURES = Path(__file__).resolve().parents[1] / "reference" / "fixtures"
CASES = [(d, c) for d in ("sim", "mgus2") for c in ("unadjusted", "adjusted", "stratified")]


@pytest.fixture(scope="module")
def fg_ref() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "analyze_fine_gray.json").read_text(encoding="utf-8"))
    return data


def _data(name: str) -> pd.DataFrame:
    if name == "sim":
        return pd.read_csv(FIXTURES / "analyze_sim.csv").rename(
            columns={"discharge_time": "time", "discharge_status": "status"})
    return pd.read_csv(FIXTURES / f"analyze_{name}.csv")


def _fit(df: pd.DataFrame, r: dict[str, Any]) -> FineGrayFit:
    x = np.column_stack([(df["arm"] == r["treat"]).to_numpy(float)] + [df[c] for c in r["covariates"]])
    return fit_fine_gray(df["time"], df["status"], x, None if r["strata"] is None else df[r["strata"]])


@pytest.mark.parametrize(("name", "case"), CASES)
def test_against_finegray_and_coxph(fg_ref, name, case):
    r = fg_ref[name][case]
    fit = _fit(_data(name), r)
    assert fit.converged
    assert fit.beta == pytest.approx(np.atleast_1d(r["coef"]), rel=1e-6)
    assert fit.se == pytest.approx(np.atleast_1d(r["se"]), rel=1e-6)  # robust, cluster = id
    assert fit.naive_se == pytest.approx(np.atleast_1d(r["naive_se"]), rel=1e-6)
    assert [fit.log_likelihood_null, fit.log_likelihood] == pytest.approx(r["loglik"], rel=1e-9)


@pytest.mark.parametrize("case", ["unadjusted", "adjusted"])
def test_against_crr(fg_ref, case):
    r = fg_ref["sim"][case]
    fit = _fit(_data("sim"), r)
    assert fit.beta == pytest.approx(np.atleast_1d(r["crr"]["coef"]), rel=1e-5)
    # crr's variance also counts the estimation of the censoring distribution: close, not equal
    assert fit.se == pytest.approx(np.atleast_1d(r["crr"]["se"]), rel=1e-3)
    # on mgus2 censorings tie with events, which crr's censoring curve handles differently (module docstring)
    m = fg_ref["mgus2"][case]
    mfit = _fit(_data("mgus2"), m)
    assert mfit.beta == pytest.approx(np.atleast_1d(m["crr"]["coef"]), rel=5e-3)
    assert mfit.se == pytest.approx(np.atleast_1d(m["crr"]["se"]), rel=1e-2)


def test_without_competing_events_it_is_the_breslow_cox_model(dataset):
    df = dataset("lung")
    x = np.column_stack([(df["arm"] == "female").to_numpy(float), df["age"]])
    fg = fit_fine_gray(df["time"], df["event"], x)
    cox = fit_cox(df["time"], df["event"], x, ties="breslow")
    assert fg.beta == pytest.approx(cox.beta, rel=1e-9)
    assert fg.naive_se == pytest.approx(cox.se, rel=1e-9)


def test_censoring_weights_events_leave_before_censorings():
    # times 1 (event), 2 (censored), 2 (event), 3 (censored), 4 (competing event)
    t = np.array([1.0, 2, 2, 3, 4])
    censored = np.array([False, True, False, True, False])
    g = censoring_survival_before(t, censored, np.array([1.0, 2, 2.5, 3, 4, 5]))
    # at 2 the event leaves first: 1 censored of 3 at risk (not of 4, as crr's censoring curve has it); at 3: 1 of 2
    assert g == pytest.approx([1, 1, 2 / 3, 2 / 3, 1 / 3, 1 / 3])


def test_compare_survival_adds_the_subdistribution_hazard_ratio(fg_ref):
    df = _data("sim")
    res = analyze_survival(df, time="time", event="status", arm="arm", control="placebo", covariates=["age"],
                           strata=["severity"], competing=True, horizon=28)
    r = fg_ref["sim"]["stratified"]
    assert res.subdistribution is not None
    log_shr, se, shr, effects = res.subdistribution
    assert log_shr == pytest.approx(r["coef"][0], rel=1e-6)
    assert se == pytest.approx(r["se"][0], rel=1e-6)
    assert shr.estimate == pytest.approx(np.exp(r["coef"][0]), rel=1e-6)
    assert [shr.ci_low, shr.ci_high] == pytest.approx(np.exp(r["coef"][0] + np.array([-1, 1]) * 1.959964 * r["se"][0]),
                                                      rel=1e-6)
    assert effects["age"] == pytest.approx((r["coef"][1], r["se"][1]), rel=1e-6)
    d = res.to_dict()["subdistribution_hazard_ratio"]
    assert {"estimate", "ci_low", "ci_high", "p_value", "se", "method"} <= set(d)
    assert 0 < d["p_value"] < 1
    assert "subdistribution hazard ratio (Fine–Gray)" in str(res)
    plain = analyze_survival(df.assign(status=df["status"].clip(upper=1)), time="time", event="status", arm="arm",
                             control="placebo")
    assert plain.subdistribution is None
    assert "subdistribution_hazard_ratio" not in plain.to_dict()


def _no_events_in(df: pd.DataFrame, arm: str) -> pd.DataFrame:
    out = df.copy()
    out.loc[(out["arm"] == arm) & (out["status"] == 1), "status"] = 0
    return out


def test_an_arm_without_events_is_refused_or_reported():
    df = _no_events_in(_data("sim"), "msc")
    with pytest.raises(UserError, match=r"^arm 'msc' has no events, so the hazard ratio of 'time' would be 0"):
        analyze_survival(df, time="time", event="status", arm="arm", control="placebo", competing=True)
    res = analyze_survival(df, time="time", event="status", arm="arm", control="placebo", competing=True,
                           strata=["severity"], covariates=["age"], refuse_not_estimable=False)
    assert res.not_estimable is not None
    assert "arm 'msc' has no events" in res.not_estimable
    assert np.isnan(res.hazard_ratio.estimate)
    assert res.subdistribution is None
    assert res.logrank.chisq > 0  # the log-rank test is still defined
    d = res.to_dict()
    assert d["hazard_ratio"] is None
    assert d["not_estimable"] == res.not_estimable
    assert "hazard ratio not estimable" in str(res)
    with pytest.raises(UserError, match=r"arm 'placebo' has no events.* would be infinite"):
        analyze_survival(_no_events_in(_data("sim"), "placebo"), time="time", event="status", arm="arm",
                         control="placebo", competing=True)
