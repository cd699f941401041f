"""Non-inferiority sample sizes (a margin: rpact's thetaH0) against rpact 3.3.4: getSampleSizeRates (Farrington-
Manning variance under H0), getSampleSizeMeans (t test) and getSampleSizeSurvival (Schoenfeld) with thetaH0
(tests/reference/design_noninferiority.R). Tolerance as test_sample_size_vs_rpact: 1e-5 relative on sizes."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from equipoise.design import gsd, sample_size
from equipoise.design.endpoints import farrington_manning_difference
from equipoise.errors import UserError
from tests.design.conftest import fixture

CASES: list[dict[str, Any]] = fixture("design_noninferiority.json")["cases"]


def _run(case: dict[str, Any]) -> Any:
    d = case["design"]
    design = gsd(looks=d["looks"], alpha=d["alpha"], sided=1, beta=d["beta"], spending="obf",
                 information_rates=d.get("information_rates"))
    params = dict(case["params"])
    ratio = params.pop("ratio", 1)
    return sample_size(case["outcome"], design=design, ratio=ratio, **params)


def test_grid_covers_every_outcome_both_directions_and_group_sequential_designs():
    assert {c["outcome"] for c in CASES} == {"binary", "continuous", "time-to-event"}
    for outcome in ("binary", "continuous", "time-to-event"):
        nulls = [c["params"]["theta_h0"] for c in CASES if c["outcome"] == outcome]
        neutral = 1.0 if outcome == "time-to-event" else 0.0
        assert min(nulls) < neutral < max(nulls), outcome  # a margin on each side
    assert {c["design"]["looks"] for c in CASES} == {1, 3}


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['outcome']}-{json.dumps(c['params'])}")
def test_non_inferiority_size_matches_rpact(case):
    res = _run(case)
    ref = case["rpact"]
    if case["outcome"] == "time-to-event":
        assert res.events_fixed == pytest.approx(ref["events_fixed"], rel=1e-5)
        assert res.events == pytest.approx(ref["events"], rel=1e-5)
        np.testing.assert_allclose(res.events_per_look, np.atleast_1d(ref["events_per_look"]), rtol=1e-5)
        if ref["n_total"] is not None:
            assert res.n_total == pytest.approx(ref["n_total"], rel=1e-4)
    else:
        assert res.n_fixed == pytest.approx(ref["n_fixed"], rel=1e-5)
        assert res.n_total == pytest.approx(ref["n_total"], rel=1e-5)
        np.testing.assert_allclose(res.n_per_look, np.atleast_1d(ref["n_per_look"]), rtol=1e-5)
    np.testing.assert_allclose(res.effect_upper, np.atleast_1d(ref["effect_upper"]), rtol=1e-4, atol=1e-6)
    assert res.assumptions["theta_h0"] == case["params"]["theta_h0"]
    assert "non-inferiority" in res.method


def test_restricted_rates_satisfy_the_null_and_reduce_to_the_pooled_rate():
    m1, m2 = farrington_manning_difference(0.2, 0.2, 0.1, 1.0)
    assert m1 - m2 == pytest.approx(0.1)
    assert farrington_manning_difference(0.3, 0.2, 0.0, 2.0) == pytest.approx(((2 * 0.3 + 0.2) / 3,) * 2)


def test_margin_needs_a_one_sided_test_and_the_right_measure():
    with pytest.raises(UserError, match="one-sided"):
        sample_size("binary", p_control=0.2, p_treatment=0.2, theta_h0=0.1, alpha=0.05, sided=2)
    with pytest.raises(UserError, match="risk difference"):
        sample_size("binary", p_control=0.2, p_treatment=0.2, theta_h0=0.1, effect_measure="risk-ratio")
    with pytest.raises(UserError, match="Schoenfeld"):
        sample_size("time-to-event", hazard_ratio=1.0, theta_h0=1.3, method="freedman")
