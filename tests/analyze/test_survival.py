"""Kaplan–Meier, medians, log-rank, Cox (Efron and Breslow, strata, covariates) and Aalen–Johansen against R's
survival package on survival::lung, survival::veteran and a simulated trial. Tolerances: 1e-6 relative for
coefficients and SEs (coxph iterates to a relative log-likelihood change of 1e-9), 1e-9 for KM quantities."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest

from equipoise.analyze.cox import fit_cox
from equipoise.analyze.frame import analyze_survival
from equipoise.analyze.kaplan_meier import cumulative_incidence, kaplan_meier, km_quantile


def _none_to_nan(values: list[float | None]) -> list[float]:
    return [np.nan if v is None else v for v in values]


@pytest.mark.parametrize(("name", "event", "key"), [("lung", "event", "km"), ("lung", "event", "km_loglog"),
                                                    ("veteran", "status", "km")])
def test_kaplan_meier_and_median_against_survfit(ref, dataset, name, event, key):
    df = dataset(name)
    conf_type: Literal["log", "log-log"] = "log-log" if key == "km_loglog" else "log"
    for stratum in ref[name][key]:
        arm = stratum["stratum"].split("=")[1]
        sub = df[df["arm"] == arm]
        km = kaplan_meier(sub["time"], sub[event], conf_type=conf_type)
        assert km.time == pytest.approx(stratum["time"])
        assert km.n_risk.tolist() == stratum["n_risk"]
        assert km.surv == pytest.approx(stratum["surv"], rel=1e-9)
        assert km.std_err.tolist() == pytest.approx(_none_to_nan(stratum["std_err"]), rel=1e-9, nan_ok=True)
        assert km.lower.tolist() == pytest.approx(_none_to_nan(stratum["lower"]), rel=1e-9, nan_ok=True)
        assert km.upper.tolist() == pytest.approx(_none_to_nan(stratum["upper"]), rel=1e-9, nan_ok=True)
        med = km_quantile(km, 0.5)
        expected = _none_to_nan([stratum["median"], stratum["median_low"], stratum["median_high"]])
        assert [med.estimate, med.ci_low, med.ci_high] == pytest.approx(expected, nan_ok=True)


def test_median_takes_the_middle_of_a_flat_stretch_at_one_half():
    # S drops to exactly 0.5 at t = 2 and stays there until t = 4: survival reports (2 + 4) / 2 = 3
    km2 = kaplan_meier([1, 2, 4, 5], [1, 1, 1, 1])
    assert km2.median().estimate == pytest.approx(3.0)


def test_lung_cox_and_logrank(ref, dataset):
    df = dataset("lung")
    r = ref["lung"]
    res = analyze_survival(df, time="time", event="event", arm="arm", control="male", covariates=["age", "ph.ecog"])
    cox = r["cox"]
    coefs = list(cox["coef"].values())
    ses = list(cox["se"].values())
    assert res.log_hazard_ratio == pytest.approx(coefs[0], rel=1e-6)
    assert res.se == pytest.approx(ses[0], rel=1e-6)
    assert [v[0] for v in res.covariate_effects.values()] == pytest.approx(coefs[1:], rel=1e-6)
    assert res.logrank.chisq == pytest.approx(r["logrank"], rel=1e-9)
    design = np.column_stack([(df["arm"] == "female").to_numpy(float), df["age"], df["ph.ecog"]])
    fit = fit_cox(df["time"], df["event"], design, ties="breslow")
    assert fit.beta == pytest.approx(list(r["cox_breslow"]["coef"].values()), rel=1e-6)
    assert fit.se == pytest.approx(list(r["cox_breslow"]["se"].values()), rel=1e-6)
    assert [fit.log_likelihood_null, fit.log_likelihood] == pytest.approx(r["cox_breslow"]["loglik"], rel=1e-10)
    assert fit.score_chisq == pytest.approx(r["cox_breslow"]["score"], rel=1e-8)


def test_veteran_stratified_cox_with_ties(ref, dataset):
    df = dataset("veteran")
    r = ref["veteran"]
    res = analyze_survival(df, time="time", event="status", arm="arm", control="standard", covariates=["karno"],
                           strata=["celltype"])
    assert res.log_hazard_ratio == pytest.approx(r["cox"]["coef"]["I(arm == \"test\")TRUE"], rel=1e-6)
    assert res.se == pytest.approx(r["cox"]["se"]["I(arm == \"test\")TRUE"], rel=1e-6)
    assert res.logrank.chisq == pytest.approx(r["logrank_strat"], rel=1e-9)
    plain = analyze_survival(df, time="time", event="status", arm="arm", control="standard")
    assert plain.log_hazard_ratio == pytest.approx(next(iter(r["cox_unadjusted"]["coef"].values())), rel=1e-6)
    assert plain.logrank.chisq == pytest.approx(r["logrank"], rel=1e-9)
    d = plain.to_dict()
    assert {"log_hazard_ratio", "se", "hazard_ratio", "ci_low", "ci_high", "logrank_chisq", "logrank_p",
            "median"} <= set(d)
    assert set(d["median"]) == {"test", "standard"}


def test_aalen_johansen_and_cause_specific_cox(ref, dataset):
    df = dataset("sim")
    for arm_ref in ref["aalen_johansen"]:
        sub = df[df["arm"] == arm_ref["arm"]]
        ci = cumulative_incidence(sub["discharge_time"], sub["discharge_status"])
        assert ci.time == pytest.approx(arm_ref["time"])
        assert ci.incidence == pytest.approx(arm_ref["discharge"], rel=1e-9, abs=1e-12)
        assert ci.competing_incidence == pytest.approx(arm_ref["death"], rel=1e-9, abs=1e-12)
        assert ci.std_err == pytest.approx(arm_ref["std_err"], rel=1e-9, abs=1e-12)  # infinitesimal jackknife
        assert ci.lower.tolist() == pytest.approx(_none_to_nan(arm_ref["lower"]), rel=1e-9, nan_ok=True)
        assert ci.upper.tolist() == pytest.approx(_none_to_nan(arm_ref["upper"]), rel=1e-9, nan_ok=True)
    res = analyze_survival(df, time="discharge_time", event="discharge_status", arm="arm", control="placebo",
                           covariates=["age"], strata=["severity"], competing=True, better="lower", horizon=28)
    assert res.log_hazard_ratio == pytest.approx(ref["sim_cox"]["coef"]["mscTRUE"], rel=1e-6)
    assert res.se == pytest.approx(ref["sim_cox"]["se"]["mscTRUE"], rel=1e-6)
    assert res.logrank.chisq == pytest.approx(ref["sim_logrank_strat"], rel=1e-9)
    assert res.incidence is not None
    assert "above 1 favours msc" in res.direction


def test_results_plot(dataset):
    from equipoise.analyze.frame import analyze_ordinal

    df = dataset("sim")
    surv = analyze_survival(df, time="discharge_time", event="discharge_status", arm="arm", control="placebo",
                            competing=True, horizon=28)
    fig = surv.plot()
    assert fig.axes[0].get_ylabel() == "cumulative incidence"
    ordinal = analyze_ordinal(df, outcome="who_day28", arm="arm", control="placebo", better="lower")
    assert len(ordinal.plot().axes[0].patches) == 2 * len(ordinal.levels)


@pytest.mark.parametrize(("name", "time", "event", "control", "horizon", "expected"), [
    ("sim", "discharge_time", "discharge_status", "placebo", 28, [0, 7, 14, 21, 28]),
    ("veteran", "time", "status", "standard", None, [0, 200, 400, 600, 800]),  # last time 999
    ("veteran", "time", "status", "standard", 90.5, [0, 14, 28, 42, 56, 70, 84]),
])
def test_km_plot_ticks_are_whole_days_with_numbers_at_risk_under_them(dataset, name, time, event, control, horizon,
                                                                       expected):
    import matplotlib.pyplot as plt

    df = dataset(name)
    res = analyze_survival(df, time=time, event=event, arm="arm", control=control, horizon=horizon,
                           competing=name == "sim")
    fig = res.plot()
    ax, table = fig.axes
    ticks = ax.get_xticks()
    assert ticks.tolist() == expected
    assert all(float(t).is_integer() for t in ticks)
    for i, (arm, km) in enumerate(res.curves.items()):  # one row of counts per arm, one count per tick
        row = [t for t in table.texts if t.get_position()[1] == -i and t.get_text() != arm]
        assert [t.get_position()[0] for t in row] == expected
        assert [int(t.get_text()) for t in row] == [km.n_at_risk(x) for x in expected]
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(x) for x in expected]
    plt.close(fig)
