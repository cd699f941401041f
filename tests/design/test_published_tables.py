"""Jennison & Turnbull (2000) tables 2.1-2.4 to their printed precision, and the classical stage-wise
O'Brien-Fleming bounds c_k = C_B sqrt(K/k)."""

from __future__ import annotations

import numpy as np
import pytest

from equipoise.design import gsd
from tests.design.conftest import fixture

JT = fixture("design_jt_tables.json")
TOL = JT["tolerance"]


def _cells(table: str) -> list[tuple[int, float, float]]:
    t = JT[table]
    return [(k, a, row[j]) for k, row in zip(t["K"], t["C"], strict=True) for j, a in enumerate(t["alpha"])]


@pytest.mark.parametrize(("k", "alpha", "c"), _cells("pocock_constant"))
def test_pocock_constants_table_2_1(k: int, alpha: float, c: float) -> None:
    d = gsd(looks=k, alpha=alpha, sided=2, spending="pocock-constant")
    assert abs(d.upper[0] - c) <= TOL
    np.testing.assert_allclose(d.upper, d.upper[0], rtol=1e-12)


@pytest.mark.parametrize(("k", "alpha", "c"), _cells("obrien_fleming_constant"))
def test_obrien_fleming_constants_table_2_3(k: int, alpha: float, c: float) -> None:
    d = gsd(looks=k, alpha=alpha, sided=2, spending="OF-constant")
    assert abs(d.upper[-1] - c) <= TOL
    np.testing.assert_allclose(d.upper, d.upper[-1] * np.sqrt(k / np.arange(1, k + 1)), rtol=1e-12)


@pytest.mark.parametrize(("table", "spending"), [("pocock_inflation", "pocock-constant"),
                                            ("obrien_fleming_inflation", "of-constant")])
def test_inflation_factors_tables_2_2_and_2_4(table: str, spending: str) -> None:
    for k, row in zip(JT["inflation_K"], JT[table], strict=True):
        for beta, expected in zip(JT["inflation_beta"], row, strict=True):
            d = gsd(looks=k, alpha=JT["inflation_alpha"], sided=2, spending=spending, beta=beta)
            assert abs(d.inflation_factor - expected) <= TOL, (k, beta, d.inflation_factor, expected)


def test_stagewise_obrien_fleming_bounds():
    # design-anchors section 3.1: K = 4, two-sided 0.05
    d = gsd(looks=4, alpha=0.05, sided=2, spending="of-constant")
    np.testing.assert_allclose(d.upper, [4.0486, 2.8628, 2.3375, 2.0243], atol=5e-5)


def test_expected_sample_size_obf_table():
    # E(N)/n_fixed for the OBF design, K = 3, beta = 0.2, alpha 0.025 per side (design-anchors section 3.2);
    # under H0 the one-sided design's value (a two-sided design also stops on the lower bound under H0)
    d = gsd(looks=3, alpha=0.025, sided=1, spending="of-constant", beta=0.2)
    assert abs(d.expected_sample_size_h1 - 0.8562) <= 5e-5
    assert abs(d.expected_sample_size_h0 - 1.0149) <= 5e-5
    two_sided = gsd(looks=3, alpha=0.05, sided=2, spending="of-constant", beta=0.2)
    assert abs(two_sided.expected_sample_size_h1 - 0.8562) <= 5e-5
