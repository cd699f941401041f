"""GroupSequentialPlan: one value for a protocol's group-sequential plan, made in one place and giving the same
boundaries as the settings design, simulate and analyze built by hand from the protocol before it existed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from equipoise.analyze.interim import MonitoringPlan, monitoring_plan
from equipoise.design import GroupSequentialPlan, bounds_at, design_protocol, gsd
from equipoise.errors import UserError
from equipoise.plan_defaults import DEFAULT_ALPHA
from equipoise.protocol import Protocol, load_protocol
from equipoise.simulate.group_sequential import SequentialPlan
from equipoise.simulate.protocol import plan_for
from tests.conftest import EXAMPLES


def _by_hand(protocol: Protocol, beta: float | None) -> dict[str, object]:
    """The gsd settings protocol_design, simulate and analyze wrote out by hand before the plan type existed."""
    plan = protocol.analysis
    assert plan is not None
    assert plan.looks is not None
    looks, fut = plan.looks, plan.looks.futility
    return {"alpha": plan.alpha, "sided": plan.sided, "spending": looks.efficacy.spending.value,
            "information_rates": list(looks.information_rates), "gamma": looks.efficacy.gamma,
            "rho": looks.efficacy.rho, "beta": beta, "futility_spending": None if fut is None else fut.spending.value,
            "futility_gamma": None if fut is None else fut.gamma, "futility_rho": None if fut is None else fut.rho,
            "binding": False if fut is None else fut.binding}


@pytest.mark.parametrize("name", ["covid19-msc-rct.yaml", "mesoblast-like.yaml"])
def test_the_plan_of_a_protocol_gives_the_boundaries_built_by_hand(name):
    protocol = load_protocol(EXAMPLES / name)
    assert protocol.analysis is not None
    power = protocol.analysis.power
    plan = GroupSequentialPlan.from_protocol(protocol)
    expected = gsd(**_by_hand(protocol, None if power is None else 1 - power))  # type: ignore[arg-type]
    design = plan.design()
    for field in ("upper", "futility", "cumulative_alpha", "information_rates"):
        np.testing.assert_array_equal(getattr(design, field), getattr(expected, field))
    assert design.drift == expected.drift
    # design: sized for power 0.8 when the protocol gives none
    sized = design_protocol(protocol).design
    by_hand = gsd(**_by_hand(protocol, 1 - (power if power is not None else 0.8)))  # type: ignore[arg-type]
    np.testing.assert_array_equal(sized.upper, by_hand.upper)
    np.testing.assert_array_equal(sized.futility, by_hand.futility)
    # simulate: the same boundaries
    assert plan_for(protocol) == SequentialPlan.from_design(expected)
    # analyze: the plan monitored is the same value
    assert monitoring_plan(protocol.analysis) == plan
    assert MonitoringPlan is GroupSequentialPlan


def test_the_msc_rct_plan_reads_as_the_protocol_says():
    plan = GroupSequentialPlan.from_protocol(load_protocol(EXAMPLES / "covid19-msc-rct.yaml"))
    assert plan.looks == 3
    assert plan.information_rates == (0.33, 0.67, 1.0)
    assert (plan.alpha, plan.sided, plan.spending) == (0.025, 1, "obf")
    assert (plan.futility_spending, plan.futility_gamma, plan.binding) == ("hsd", -2.0, False)
    assert plan.beta == pytest.approx(0.1)
    text = str(plan)
    assert "3 looks at information 0.33, 0.67, 1" in text
    assert "O'Brien–Fleming-type alpha spending, one-sided alpha 0.025" in text
    assert "non-binding Hwang–Shih–DeCani futility" in text


def test_a_protocol_without_looks_is_one_final_look_and_cannot_be_monitored():
    protocol = load_protocol(EXAMPLES / "covid19-platform.yaml")
    assert protocol.analysis is not None
    assert protocol.analysis.looks is None
    plan = GroupSequentialPlan.from_protocol(protocol)
    assert plan.information_rates == (1.0,)
    assert (plan.alpha, plan.sided) == (0.01, 2)
    fixed = plan.design()
    assert fixed.looks == 1
    np.testing.assert_array_equal(fixed.upper, gsd(looks=1, alpha=0.01, sided=2, beta=plan.beta).upper)
    with pytest.raises(UserError, match=r"analysis\.looks is missing"):
        monitoring_plan(protocol.analysis)


def test_the_plan_round_trips_through_its_dict_and_a_designs_json():
    plan = GroupSequentialPlan((0.3, 0.62, 1.0), futility_spending="hsd", futility_gamma=-2, beta=0.1)
    data = json.loads(json.dumps(plan.to_dict()))
    assert GroupSequentialPlan.from_mapping(data) == plan
    assert GroupSequentialPlan.from_mapping(plan.design().to_dict()) == plan
    assert GroupSequentialPlan.from_design(plan.design()) == plan


def test_options_default_to_three_equal_looks_at_the_default_alpha():
    plan = GroupSequentialPlan.from_options()
    assert plan.alpha == DEFAULT_ALPHA
    assert plan.information_rates == pytest.approx((1 / 3, 2 / 3, 1.0))
    np.testing.assert_array_equal(plan.design().upper, gsd().upper)
    with pytest.raises(UserError, match="3 information rates given for 2 looks"):
        GroupSequentialPlan.from_options(looks=2, information_rates=[0.3, 0.6, 1])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"information_rates": (0.6, 0.3, 1.0)}, "must increase"),
    ({"information_rates": (0.3, 0.6, 0.9)}, "with rate 1"),
    ({"information_rates": (0.0, 0.5, 1.0)}, "above 0"),
    ({"information_rates": tuple(np.linspace(0.04, 1, 25))}, "looks must be"),
    ({"alpha": 0.7}, "alpha"),
    ({"sided": 3}, "sided"),
    ({"beta": 1.5}, "beta"),
    ({"spending": "linear"}, "boundary family"),
    ({"spending": "hsd"}, "gamma"),
    ({"futility_spending": "kd", "futility_rho": -1}, "rho"),
])
def test_a_bad_plan_is_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(UserError, match=message):
        GroupSequentialPlan(**kwargs)


def test_bounds_at_the_planned_information_are_the_plans_design():
    plan = GroupSequentialPlan.from_protocol(load_protocol(EXAMPLES / "mesoblast-like.yaml"))
    at_plan = bounds_at(plan, plan.information_rates[:2])
    np.testing.assert_array_equal(at_plan.upper, plan.design().upper)
    np.testing.assert_array_equal(at_plan.futility, plan.design().futility)
    late = bounds_at(plan, [0.35, 0.5])
    assert late.information_rates.tolist() == [0.35, 0.5, 0.6, 1.0]
    np.testing.assert_array_equal(late.upper, plan.design([0.35, 0.5, 0.6, 1.0]).upper)
