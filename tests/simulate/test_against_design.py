"""Simulation against the design layer: a design sized by ``equipoise.design`` has its nominal power and its
type I error, and `simulate protocol` on the MSC RCT reports a type I error within Monte Carlo error of alpha."""

import json
import math
from typing import Any

import numpy as np
import pytest

from equipoise.simulate.endpoints import (
    BinaryEndpoint,
    Endpoint,
    NormalEndpoint,
    OrdinalEndpoint,
    SurvivalEndpoint,
)
from equipoise.simulate.generators import PiecewiseExponential
from equipoise.simulate.group_sequential import SequentialPlan, simulate_group_sequential

design = pytest.importorskip("equipoise.design")

N = 20_000


def within(observed: float, nominal: float, n: int, slack: float) -> bool:
    """Monte Carlo error (3.5 SE) plus the slack of the design's normal approximation."""
    return abs(observed - nominal) <= 3.5 * math.sqrt(nominal * (1 - nominal) / n) + slack


@pytest.fixture(scope="module")
def gs():
    return design.gsd(looks=3, alpha=0.025, sided=1, spending="obf", beta=0.2, futility_spending="hsd",
                      futility_gamma=-2)


def looks_of(size: Any) -> tuple[float, ...]:
    return tuple(float(math.ceil(n)) for n in size.n_per_look)


def test_plan_reads_the_design(gs):
    plan = SequentialPlan.from_design(gs)
    assert plan.upper == pytest.approx(tuple(gs.upper))
    assert plan.lower is not None
    assert plan.lower[0] == pytest.approx(gs.lower[0])
    assert not plan.two_sided


@pytest.mark.parametrize("case", ["binary", "continuous", "ordinal"])
def test_sized_design_has_its_nominal_power_and_type_one_error(gs, case):
    plan = SequentialPlan.from_design(gs)
    alt: Endpoint
    null: Endpoint
    if case == "binary":
        size = design.sample_size("binary", p_control=0.3, p_treatment=0.18, power=0.8, design=gs)
        alt = BinaryEndpoint(0.3, 0.18, looks_of(size), higher_is_better=False)
        null = BinaryEndpoint(0.3, 0.3, looks_of(size), higher_is_better=False)
    elif case == "continuous":
        size = design.sample_size("continuous", delta=0.5, sd=1.0, power=0.8, design=gs)
        alt, null = NormalEndpoint(0.5, 1.0, looks_of(size)), NormalEndpoint(0.0, 1.0, looks_of(size))
    else:
        control = (0.2, 0.5, 0.2, 0.1)
        size = design.sample_size("ordinal", p_control=list(control), odds_ratio=2.0, power=0.8, design=gs)
        alt, null = OrdinalEndpoint(control, 2.0, looks_of(size)), OrdinalEndpoint(control, 1.0, looks_of(size))
    power = simulate_group_sequential(alt, plan, n_trials=N, seed=11)
    assert within(power.rejection_probability_futility_obeyed, 0.8, N, 0.02), power
    alpha = simulate_group_sequential(null, plan, n_trials=N, seed=12)
    assert within(alpha.rejection_probability, 0.025, N, 0.003), alpha


def test_sized_survival_design_has_its_nominal_power(gs):
    plan = SequentialPlan.from_design(gs)
    size = design.sample_size("time-to-event", hazard_ratio=0.75, power=0.8, design=gs, median_control=12,
                              accrual=12, follow_up=12)
    events = tuple(math.ceil(e) for e in size.events_per_look)
    endpoint = SurvivalEndpoint(PiecewiseExponential.from_median(12), 0.75, events, math.ceil(size.n_total),
                                12.0)
    n = 4000
    oc = simulate_group_sequential(endpoint, plan, n_trials=n, seed=13)
    assert within(oc.rejection_probability_futility_obeyed, 0.8, n, 0.02), oc
    assert oc.expected_events is not None
    assert np.isclose(oc.expected_events, sum(p * e for p, e in zip(oc.stop_probability_by_look, events,
                                                                    strict=True)), atol=0.5)


def test_protocol_rct_type_one_error_is_alpha(run_cli, examples):
    r = run_cli("simulate", "protocol", examples / "covid19-msc-rct.yaml", "--effect", "none", "-n", "20000",
                "--json")
    assert r.code == 0, r.stderr
    d = json.loads(r.stdout)
    assert abs(d["rejection_probability"] - 0.025) <= 3.5 * d["mc_se"]
    assert len(d["stop_probability_by_look"]) == 3
    assert d["expected_n"] < 630


def test_protocol_power_at_its_target_matches_the_design_layer(examples):
    """The design layer gives the MSC RCT's power at its target (Whitehead); simulation with the PO
    score test, futility obeyed, must agree within Monte Carlo error plus the approximation's slack."""
    from equipoise.protocol import load_protocol
    from equipoise.simulate.protocol import Effect, simulate_protocol

    protocol = load_protocol(examples / "covid19-msc-rct.yaml")
    nominal = design.design_protocol(protocol).power_at_target
    oc = simulate_protocol(protocol, Effect.parse("assumed"), n_trials=N, seed=21)
    assert within(oc.rejection_probability_futility_obeyed, nominal, N, 0.02), (oc.rejection_probability, nominal)
