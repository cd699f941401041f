"""Behaviour of the design API: validation, conventions, result objects, crossing probabilities."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import norm

from equipoise.design import GroupSequentialDesign, bounds_at, crossing_probabilities, gsd, power, sample_size
from equipoise.errors import UserError
from tests.design.conftest import present


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"looks": 0}, "looks"),
        ({"looks": 21}, "looks"),
        ({"alpha": 0}, "alpha"),
        ({"alpha": 0.5}, "alpha"),
        ({"alpha": -0.1}, "alpha"),
        ({"sided": 3}, "sided"),
        ({"information_rates": [0.5, 0.4, 1]}, "increasing"),
        ({"information_rates": [0.5, 0.9]}, "last information rate"),
        ({"information_rates": [0, 0.5, 1]}, "increasing"),
        ({"looks": 2, "information_rates": [0.3, 0.6, 1]}, "3 information rates"),
        ({"spending": "bogus"}, "boundary family"),
        ({"spending": "hsd"}, "gamma"),
        ({"spending": "kd", "rho": -1}, "rho"),
        ({"beta": 1.2}, "beta"),
        ({"beta": 0}, "beta"),
        ({"spending": "of-constant", "futility_spending": "obf"}, "alpha-spending"),
        ({"futility_spending": "pocock-constant"}, "futility spending"),
        ({"binding": True}, "binding"),
        ({"looks": 1, "futility_spending": "obf"}, "2 looks"),
    ],
)
def test_bad_design_arguments_are_user_errors(kwargs, message):
    with pytest.raises(UserError, match=message):
        gsd(**kwargs)


@pytest.mark.parametrize(
    ("outcome", "kwargs", "message"),
    [
        ("binary", {"p_control": 1.5, "p_treatment": 0.2}, "p_control"),
        ("binary", {"p_control": 0.3, "p_treatment": 0}, "p_treatment"),
        ("binary", {"p_control": 0.3, "p_treatment": 0.3}, "no effect"),
        ("binary", {"p_control": 0.3}, "exactly one"),
        ("binary", {"p_control": 0.3, "p_treatment": 0.2, "variance": "weird"}, "variance"),
        ("continuous", {"delta": 0}, "delta"),
        ("continuous", {"delta": 1, "sd": -1}, "sd"),
        ("time-to-event", {"hazard_ratio": 1}, "hazard_ratio"),
        ("time-to-event", {"hazard_ratio": 0.7, "median_control": 12}, "accrual"),
        ("ordinal", {"p_control": [0.5, 0.6], "odds_ratio": 2}, "sum to 1"),
        ("ordinal", {"p_control": [0.2, 0.8]}, "odds_ratio"),
        ("nominal", {}, "outcome"),
        ("binary", {"p_control": 0.3, "p_treatment": 0.2, "delta": 1}, "unexpected"),
        ("binary", {"p_control": 0.3, "p_treatment": 0.2, "ratio": 0}, "ratio"),
        ("binary", {"p_control": 0.3, "p_treatment": 0.2, "power": 1}, "power"),
    ],
)
def test_bad_sample_size_arguments_are_user_errors(outcome, kwargs, message):
    with pytest.raises(UserError, match=message):
        sample_size(outcome, **kwargs)


def test_spending_names_are_case_insensitive():
    a = gsd(looks=3, spending="oF-constant")
    b = gsd(looks=3, spending="of-constant")
    c = gsd(looks=3, spending="OBF")
    np.testing.assert_array_equal(a.upper, b.upper)
    assert c.spending == "obf"
    assert a.spending == "of-constant"


def test_design_attributes_and_conventions():
    d = gsd(looks=4, alpha=0.05, sided=2, spending="pocock")
    assert isinstance(d, GroupSequentialDesign)
    assert d.information_rates.shape == (4,)
    assert d.lower is not None
    np.testing.assert_array_equal(d.lower, -d.upper)
    assert d.futility is None
    np.testing.assert_allclose(d.cumulative_alpha[-1], 0.05)
    np.testing.assert_allclose(d.alpha_spent.sum(), 0.05)
    # under H0 a two-sided design rejects with probability alpha, split between the tails
    up, low = crossing_probabilities(d.upper, d.lower, d.information_rates, 0.0)
    np.testing.assert_allclose(up.sum() + low.sum(), 0.05, atol=1e-9)
    np.testing.assert_allclose(up, low, atol=1e-12)
    assert d.decision(1, 3.0) == "efficacy"
    assert d.decision(1, -3.0) == "harm"
    assert d.decision(2, 0.1) == "continue"
    assert d.decision(4, 0.1) == "accept"


def test_one_sided_futility_design_decisions():
    d = gsd(looks=3, beta=0.2, futility_spending="obf")
    assert d.lower is not None
    assert d.futility is not None
    np.testing.assert_array_equal(d.lower, d.futility)
    assert d.lower[-1] == d.upper[-1]
    assert d.decision(1, -0.5) == "futility"
    assert d.decision(2, 1.5) == "continue"
    assert d.decision(3, 2.0) == "efficacy"
    with pytest.raises(UserError):
        d.decision(4, 0.0)
    # power at the design drift is 1 - beta; interim futility stops spend beta(t_{K-1})
    np.testing.assert_allclose(d.power[-1], 0.8, atol=1e-8)
    assert d.cumulative_beta is not None
    np.testing.assert_allclose(d.futility_h1.sum(), d.cumulative_beta[-2], atol=1e-8)
    assert d.futility_h1[-1] == 0.0


def test_crossing_probabilities_single_look_is_the_normal_tail():
    up, low = crossing_probabilities([1.96], [-1.0], [1.0], 0.5)
    np.testing.assert_allclose(up, [norm.sf(1.96 - 0.5)], rtol=1e-12)
    np.testing.assert_allclose(low, [norm.cdf(-1.0 - 0.5)], rtol=1e-12)
    up, low = crossing_probabilities([1.96], None, [1.0], 0.0)
    assert low[0] == 0.0


def test_crossing_probabilities_against_simulation():
    rng = np.random.default_rng(12345)
    t = np.array([0.3, 0.6, 1.0])
    upper = np.array([3.0, 2.4, 2.0])
    lower = np.array([-0.5, 0.7, 2.0])
    drift = 2.5
    n = 400_000
    increments = rng.standard_normal((n, 3)) * np.sqrt(np.diff(t, prepend=0.0)) + drift * np.diff(t, prepend=0.0)
    z = np.cumsum(increments, axis=1) / np.sqrt(t)
    alive = np.ones(n, dtype=bool)
    sim_up, sim_low = np.zeros(3), np.zeros(3)
    for k in range(3):
        hit_up = alive & (z[:, k] >= upper[k])
        hit_low = alive & (z[:, k] <= lower[k]) & ~hit_up
        sim_up[k], sim_low[k] = hit_up.mean(), hit_low.mean()
        alive &= ~(hit_up | hit_low)
    up, low = crossing_probabilities(upper, lower, t, drift)
    se = np.sqrt(0.25 / n)
    assert np.all(np.abs(up - sim_up) < 5 * se)
    assert np.all(np.abs(low - sim_low) < 5 * se)


def test_crossing_probabilities_validates_shapes():
    with pytest.raises(ValueError, match="same length"):
        crossing_probabilities([2.0, 2.0], None, [1.0], 0.0)


def test_with_beta_recomputes_beta_spending_bounds():
    d = gsd(looks=3, beta=0.2, futility_spending="pocock")
    e = d.with_beta(0.1)
    assert e.beta == 0.1
    assert e.futility is not None
    assert d.futility is not None
    assert not np.allclose(e.futility, d.futility)
    assert d.with_beta(0.2) is d


def test_to_dict_is_plain_json():
    d = gsd(looks=5, alpha=0.05, sided=2, spending="hsd", gamma=-4, beta=0.2, futility_spending="hsd",
            futility_gamma=1)
    text = json.dumps(d.to_dict(), allow_nan=False)
    data = json.loads(text)
    for key in ("upper", "lower", "cumulative_alpha", "inflation_factor", "information_rates"):
        assert key in data
    assert "upper" in str(d) or "look" in str(d)
    s = sample_size("time-to-event", hazard_ratio=0.8, design=d)
    json.dumps(s.to_dict(), allow_nan=False)
    assert s.n_total is None
    assert s.events is not None


def test_sample_size_conventions():
    d = gsd(looks=3)
    r = sample_size("binary", design=d, p_control=0.4, p_treatment=0.23, ratio="2:1")
    assert r.ratio == 2
    assert r.n_per_arm is not None
    assert r.n_total is not None
    assert r.n_per_look is not None
    np.testing.assert_allclose(r.n_per_arm["experimental"], 2 * r.n_per_arm["control"])
    np.testing.assert_allclose(present(r.n_per_look), present(r.n_total) * d.information_rates)
    np.testing.assert_allclose(present(r.n_total), present(r.n_fixed) * d.inflation_factor)
    assert r.n_total_rounded is not None
    assert r.n_total_rounded >= r.n_total
    # the power of that size is the planned power (exactly when the variance is the same under H0 and H1;
    # with the pooled variance n_fixed * inflation factor is rpact's approximation, here 0.8007)
    u = sample_size("binary", design=d, p_control=0.4, p_treatment=0.23, ratio=2, variance="unpooled")
    assert u.n_total is not None
    p = power("binary", u.n_total, design=d, p_control=0.4, p_treatment=0.23, ratio=2, variance="unpooled")
    np.testing.assert_allclose(p.power, 0.8, atol=1e-8)
    pooled = power("binary", r.n_total, design=d, p_control=0.4, p_treatment=0.23, ratio=2)
    assert abs(pooled.power - 0.8) < 2e-3
    # power given with a design rebuilds its beta
    r90 = sample_size("binary", design=d, power=0.9, p_control=0.4, p_treatment=0.23)
    assert r90.design.beta == pytest.approx(0.1)
    with pytest.raises(UserError, match="alpha"):
        sample_size("binary", design=d, alpha=0.05, p_control=0.4, p_treatment=0.23)


def test_risk_ratio_and_odds_ratio_inputs():
    a = sample_size("binary", p_control=0.2, risk_ratio=0.8)
    b = sample_size("binary", p_control=0.2, p_treatment=0.16)
    np.testing.assert_allclose(present(a.n_total), present(b.n_total))
    # the pooled risk-ratio score test of RR = 1 is the pooled difference test (rpact riskRatio = TRUE)
    c = sample_size("binary", p_control=0.2, p_treatment=0.16, effect_measure="risk-ratio")
    np.testing.assert_allclose(present(c.n_total), present(b.n_total))
    assert c.effect_upper is not None
    assert c.effect_upper[0] < 1
    o = sample_size("binary", p_control=0.2, odds_ratio=0.7619047619047619)
    np.testing.assert_allclose(o.assumptions["p_treatment"], 0.16)


def test_plots_have_three_panels(tmp_path):
    d = gsd(looks=4, beta=0.1, futility_spending="hsd", futility_gamma=-2)
    fig = d.plot()
    assert len(fig.axes) == 3
    s = sample_size("time-to-event", design=d, hazard_ratio=0.7, median_control=12, accrual=12, follow_up=12)
    fig2 = s.plot()
    assert [ax.get_title() for ax in fig2.axes] == ["Boundaries (z scale)", "Boundaries (effect scale)",
                                                    "Sample-size path"]
    out = tmp_path / "design.png"
    fig2.savefig(out)
    assert out.stat().st_size > 1000
    two = gsd(looks=3, alpha=0.05, sided=2, beta=0.2, futility_spending="obf")
    assert len(sample_size("ordinal", design=two, p_control=[0.3, 0.4, 0.3], odds_ratio=1.8).plot().axes) == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"looks": 4},
        {"looks": 3, "alpha": 0.05, "sided": 2, "spending": "hsd", "gamma": -4},
        {"looks": 3, "beta": 0.2, "futility_spending": "obf"},
        {"looks": 4, "beta": 0.1, "futility_spending": "pocock", "binding": True},
        {"looks": 3, "spending": "pocock-constant"},
    ],
)
def test_bounds_at_planned_information_reproduce_the_design(kwargs):
    d = gsd(**kwargs)
    b = bounds_at(d, d.information_rates, final=True)
    np.testing.assert_allclose(b.upper, d.upper, rtol=0, atol=1e-9)
    if d.sided == 1 and d.futility is not None:
        np.testing.assert_allclose(present(b.futility), d.futility, rtol=0, atol=1e-9)


def test_bounds_at_observed_information_follow_the_spending_function():
    d = gsd(looks=3, spending="obf")
    # looks actually at 0.4 and 0.75: the same as designing for those rates
    b = bounds_at(d, [0.4, 0.75, 1.0], final=True)
    np.testing.assert_allclose(b.upper, gsd(information_rates=[0.4, 0.75, 1.0]).upper, atol=1e-9)
    # an interim only (the planned looks still to come follow it), and an over-running final look
    interim = bounds_at(d, [0.45])
    assert interim.observed == 1
    np.testing.assert_allclose(interim.information_rates, [0.45, 2 / 3, 1.0])
    np.testing.assert_allclose(interim.upper, gsd(information_rates=[0.45, 2 / 3, 1.0]).upper, atol=1e-12)
    over = bounds_at(d, [0.4, 0.75, 1.1], final=True)
    np.testing.assert_allclose(over.cumulative_alpha[-1], 0.025)
    json.dumps(over.to_dict(), allow_nan=False)
    with pytest.raises(UserError, match="increasing"):
        bounds_at(d, [0.5, 0.4])
