"""The adaptive platform's allocation rule (square-root control, tempered Thompson shares within a floor and a
cap) and its agreement with the server's response-adaptive scheme, which must apply a table made here unchanged."""

from __future__ import annotations

import math

import numpy as np
import pytest

from equipoise.allocate import AllocationRequest, ArmWeight, ResponseAdaptiveScheme
from equipoise.allocate.platform_table import allocation_table, control_share, water_fill
from equipoise.protocol.adaptive_platform import Allocation, AllocationRule

RULE = Allocation(rule=AllocationRule.THOMPSON, power=0.5, floor=0.1, cap=0.6, control="sqrt")


def test_square_root_rule():
    k = np.array([1, 2, 3, 4])
    assert control_share(k, "sqrt") == pytest.approx([math.sqrt(x) / (math.sqrt(x) + x) for x in k])
    assert control_share(k, 0.25) == pytest.approx([0.25] * 4)


def test_tempered_shares_within_floor_and_cap():
    p_best = np.array([[0.0, 0.90, 0.08, 0.02, 0.0]])
    active = np.array([[True, True, True, True, True]])
    table = allocation_table(p_best, active, 0, RULE)[0]
    assert table.sum() == pytest.approx(1)
    assert table[0] == pytest.approx(2 / 6)  # sqrt(4) / (sqrt(4) + 4)
    assert table[1:].min() == pytest.approx(0.1)  # the floor holds the arm with P(best) 0
    raw = np.sqrt([0.90, 0.08, 0.02])
    free = table[1:4]
    assert free[0] / free[1] == pytest.approx(raw[0] / raw[1])  # shares above the floor stay proportional


def test_cap_and_dropped_arms():
    rule = Allocation(rule=AllocationRule.THOMPSON, power=1, floor=0.05, cap=0.4, control=0.3)
    table = allocation_table(np.array([[0, 0.97, 0.03, 0]]), np.array([[True, True, True, False]]), 0, rule)[0]
    assert table == pytest.approx([0.3, 0.4, 0.3, 0.0])
    fixed = Allocation(rule=AllocationRule.FIXED)
    assert allocation_table(np.zeros((1, 3)), np.ones((1, 3), bool), 0, fixed, np.array([2.0, 1, 1]))[0] \
        == pytest.approx([0.5, 0.25, 0.25])


def test_water_fill_equal_when_bounds_decide():
    shares = water_fill(np.array([[0.9, 0.1]]), np.array([[True, True]]), np.array([0.9]), 0.45, 0.6)
    assert shares[0] == pytest.approx([0.45, 0.45])


@pytest.mark.parametrize("p_best", [[0.0, 0.9, 0.08, 0.02, 0.0], [0.0, 0.25, 0.25, 0.25, 0.25],
                                    [0.0, 0.5, 0.3, 0.2, 0.0], [0.0, 0.999, 0.0005, 0.0004, 0.0001]])
def test_the_server_allocates_from_the_table_unchanged(p_best):
    """ResponseAdaptiveScheme with the protocol's floor and ceiling re-applies its bounds to a published table;
    a table made by this rule already satisfies them, so every probability comes through as proposed."""
    ids = ["uc", "msc", "toci", "dexa", "bari"]
    table = allocation_table(np.array([p_best]), np.ones((1, 5), bool), 0, RULE)[0]
    arms = tuple(ArmWeight(i, 1) for i in ids)
    scheme = ResponseAdaptiveScheme(arms, floor=RULE.floor, ceiling=RULE.cap)
    request = AllocationRequest(arms, arms, adaptive_probabilities=dict(zip(ids, table.tolist(), strict=True)))
    phase, probabilities = scheme.probabilities(request, 10)
    assert phase == "adaptive"
    assert [probabilities[i] for i in ids] == pytest.approx(table.tolist(), abs=1e-9)
