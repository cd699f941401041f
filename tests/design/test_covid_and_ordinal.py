"""COVID-era checks (RECOVERY, a Mesoblast-like design), the ordinal (Whitehead 1993) sample size against the
formula written in R, Hmisc::posamsize and a proportional-odds simulation, and the odds-ratio formula."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.stats import norm

from equipoise.design import gsd, power, sample_size
from tests.design.conftest import fixture, present

MISC = fixture("design_misc.json")


def test_recovery_power_unpooled_and_pooled():
    rec = MISC["covid"]["recovery"]
    common: dict[str, Any] = {"ratio": rec["n_treatment"] / rec["n_control"], "p_control": rec["p_control"],
                              "p_treatment": rec["p_treatment"], "alpha": rec["alpha"], "sided": rec["sided"]}
    n = rec["n_treatment"] + rec["n_control"]
    unpooled = power("binary", n, variance="unpooled", **common).power
    pooled = power("binary", n, variance="pooled", **common).power
    assert round(unpooled, 3) == 0.901
    assert round(pooled, 3) == 0.887
    np.testing.assert_allclose(unpooled, rec["power_unpooled"], atol=1e-6)
    np.testing.assert_allclose(pooled, rec["power_pooled"], atol=1e-6)
    n90 = sample_size("binary", power=0.9, **common)
    np.testing.assert_allclose(present(n90.n_total), rec["n_for_90_pooled"], rtol=1e-6)
    assert n90.n_per_arm is not None
    assert n90.n_per_arm["control"] == pytest.approx(2 * n90.n_per_arm["experimental"])


def test_mesoblast_like_three_look_design():
    meso = MISC["covid"]["mesoblast"]
    d = gsd(**meso["args"])
    np.testing.assert_allclose(d.upper, meso["upper"], atol=1e-6)
    r = sample_size("binary", design=d, p_control=meso["p_control"], p_treatment=meso["p_treatment"])
    np.testing.assert_allclose(present(r.n_fixed), meso["n_fixed"], rtol=1e-6)
    np.testing.assert_allclose(present(r.n_total), meso["n_total"], rtol=1e-6)
    np.testing.assert_allclose(present(r.n_per_look), meso["n_per_look"], rtol=1e-6)
    # rpact's two-sided "lower" effect bound is the benefit direction here (a lower mortality)
    assert r.direction_upper is False
    np.testing.assert_allclose(present(r.effect_upper), meso["effect_lower"], rtol=1e-5)
    np.testing.assert_allclose(present(r.effect_lower), meso["effect_upper"], rtol=1e-5)
    assert np.all(present(r.effect_upper) < 0)


@pytest.mark.parametrize("case", MISC["ordinal"],
                         ids=lambda c: f"or{c['params']['odds_ratio']}-{len(c['params']['p_control'])}cat")
def test_ordinal_whitehead_formula(case: dict[str, Any]) -> None:
    params = dict(case["params"])
    r = sample_size("ordinal", alpha=case["alpha"], sided=case["sided"], power=case["power"], **params)
    np.testing.assert_allclose(present(r.n_total), case["n_total"], rtol=1e-10)
    np.testing.assert_allclose(r.assumptions["p_treatment"], case["p_treatment"], atol=1e-12)
    if case.get("hmisc_posamsize") is not None:
        np.testing.assert_allclose(present(r.n_total), case["hmisc_posamsize"], rtol=1e-10)


def test_ordinal_published_example():
    # powertools propodds / design-anchors 3.6: pC = (0.2, 0.5, 0.2, 0.1), OR 2.5, two-sided 0.05
    r80 = sample_size("ordinal", p_control=[0.2, 0.5, 0.2, 0.1], odds_ratio=2.5, alpha=0.05, sided=2)
    r90 = sample_size("ordinal", p_control=[0.2, 0.5, 0.2, 0.1], odds_ratio=2.5, alpha=0.05, sided=2, power=0.9)
    assert round(present(r80.n_total), 2) == 130.84
    assert round(present(r90.n_total), 2) == 175.15
    np.testing.assert_allclose(r80.assumptions["p_treatment"], [0.3846, 0.4690, 0.1038, 0.0426], atol=5e-5)
    p = power("ordinal", 130, p_control=[0.2, 0.5, 0.2, 0.1], odds_ratio=2.5, alpha=0.05, sided=2)
    # the anchor's 0.7914 is Hmisc::popower, whose variance has (N+1)^2 where Whitehead's large-sample
    # formula (the inverse of the sample-size formula used here) has N^2
    hmisc = norm.cdf(p.drift * 130 / 131 - norm.ppf(0.975))
    assert round(hmisc, 4) == 0.7914
    assert p.power_effect_direction == pytest.approx(norm.cdf(p.drift - norm.ppf(0.975)), abs=1e-12)


def test_ordinal_simulation_agrees_with_the_formula():
    sim = MISC["ordinal_simulation"]
    assert sim is not None, "the R script ran without the ordinal package"
    # the formula targets 0.8; clm's Wald test at that n should be within 3 Monte Carlo SEs (plus the known
    # small-sample optimism of about 1 point, design-anchors 3.6)
    assert abs(sim["power"] - 0.8) < 3 * sim["monte_carlo_se"] + 0.01


def test_ordinal_group_sequential_protocol_example():
    rct = MISC["ordinal_gsd"]
    d = gsd(**rct["design"])
    np.testing.assert_allclose(d.upper, rct["upper"], atol=1e-6)
    assert d.futility is not None
    np.testing.assert_allclose(present(d.futility)[:-1], rct["futility"], atol=1e-6)
    params = dict(rct["params"])
    r = sample_size("ordinal", design=d, **params)
    np.testing.assert_allclose(present(r.n_fixed), rct["n_fixed"], rtol=1e-10)
    np.testing.assert_allclose(present(r.n_total), rct["n_total"], rtol=1e-6)


@pytest.mark.parametrize("case", MISC["odds_ratio"],
                         ids=lambda c: f"{c['params']['p_control']}-{c['params']['p_treatment']}")
def test_odds_ratio_formula(case: dict[str, Any]) -> None:
    params = dict(case["params"])
    r = sample_size("binary", alpha=case["alpha"], sided=case["sided"], power=case["power"], **params)
    np.testing.assert_allclose(present(r.n_total), case["n_total"], rtol=1e-10)


def test_gsdesign_odds_ratio_anchor():
    # gsDesign test-base.R: nBinomial(p1 = .15, p2 = .1, beta = .2, scale = "or") = 1355.84
    r = sample_size("binary", p_control=0.1, p_treatment=0.15, effect_measure="odds-ratio")
    assert round(present(r.n_total), 2) == 1355.84


def test_schoenfeld_and_freedman_anchor_table():
    # design-anchors 3.5: events for 1:1, one-sided 0.025, 90% power
    table = {0.75: (507.8443, 514.8637), 0.70: (330.3779, 337.4050), 0.80: (844.0876, 851.1013),
             0.50: (87.4793, 94.5668)}
    for hr, (schoenfeld, freedman) in table.items():
        s = sample_size("time-to-event", hazard_ratio=hr, power=0.9)
        f = sample_size("time-to-event", hazard_ratio=hr, power=0.9, method="freedman")
        assert s.events == pytest.approx(schoenfeld, abs=1e-4)
        assert f.events == pytest.approx(freedman, abs=1e-4)
        assert s.n_total is None
