"""Binary primaries on a ratio scale: the Wald z of the log risk ratio / log odds ratio (with 0.5 added to every
cell of a table with a zero cell), checked against references from tests/reference/simulate_ratio.R.

- Exact: the R script enumerates every binomial outcome of fixed and two-look designs, with each table's log
  ratio and variance from metafor's ``escalc(add = 1/2, to = "only0")``. Our statistic, enumerated the same way,
  gives the same rejection probabilities to rounding; our simulation gives them within Monte Carlo error.
  These small trials (30-60 per arm) are where zero cells and the conservatism of the log-RR Wald test show.
- rpact: ``getSimulationRates(riskRatio = TRUE)`` tests RR = 1 with the Farrington-Manning score statistic,
  which at thetaH0 = 1 is the pooled difference-in-proportions z, a different statistic from ours. The two are
  asymptotically equivalent (same drift to first order), so on a large trial (3,000 patients) they must agree
  under the null within Monte Carlo error, and under the alternative within Monte Carlo error plus the
  difference of their normal-approximation powers (computed by equipoise.design with pooled and unpooled
  variance, about 0.003 here). They are not compared on small trials, where they legitimately differ.
- The design layer: a design sized for the log-ratio Wald test (``variance="unpooled"``) has its nominal power,
  and type I error within Monte Carlo error of alpha.
"""

import math
from typing import Any

import numpy as np
import pytest
from scipy.stats import binom

from equipoise.analyze.binary import log_ratio_wald
from equipoise.errors import UserError
from equipoise.simulate.group_sequential import SequentialPlan, simulate_group_sequential
from equipoise.simulate.ratio_endpoints import BinaryRatioEndpoint

from .conftest import load_fixture

FIXTURE = load_fixture("simulate_ratio.json")
N = 40_000


def close(ours: float, theirs: float, n_ours: int, n_theirs: int | None, slack: float = 0.0) -> bool:
    """Within 3.5 combined binomial SEs (``n_theirs`` None: the reference is exact), plus ``slack``."""
    p = theirs if n_theirs is None else (ours * n_ours + theirs * n_theirs) / (n_ours + n_theirs)
    var = max(p * (1 - p), 1 / n_ours) * (1 / n_ours + (0 if n_theirs is None else 1 / n_theirs))
    return abs(ours - theirs) <= 3.5 * math.sqrt(var) + slack


def _z(x1: np.ndarray, n1: int, x0: np.ndarray, n0: int, case: dict[str, Any]) -> np.ndarray:
    est, se = log_ratio_wald(x1, np.full(x1.shape, float(n1)), x0, np.full(x0.shape, float(n0)), case["measure"])
    return np.asarray((1.0 if case["higher_is_better"] else -1.0) * est / se)


def exact_reject(case: dict[str, Any]) -> list[float]:
    """Our statistic, enumerated over every outcome (the R script's computation, with our code)."""
    n1, n0 = np.atleast_1d(case["n_treatment"]), np.atleast_1d(case["n_control"])
    p1, p0 = case["p_treatment"], case["p_control"]
    crit = np.atleast_1d(case["critical_values"])
    x1, x0 = np.meshgrid(np.arange(n1[0] + 1), np.arange(n0[0] + 1), indexing="ij")
    w1 = binom.pmf(x1, n1[0], p1) * binom.pmf(x0, n0[0], p0)
    z1 = _z(x1, n1[0], x0, n0[0], case)
    out = [float(w1[z1 >= crit[0]].sum())]
    if len(crit) == 2:
        y1, y0 = np.meshgrid(np.arange(n1[1] - n1[0] + 1), np.arange(n0[1] - n0[0] + 1), indexing="ij")
        w2 = binom.pmf(y1, n1[1] - n1[0], p1) * binom.pmf(y0, n0[1] - n0[0], p0)
        cont = z1 < crit[0]
        a1, a0, wa = x1[cont][:, None], x0[cont][:, None], w1[cont][:, None]
        z2 = _z(a1 + y1.ravel()[None, :], n1[1], a0 + y0.ravel()[None, :], n0[1], case)
        out.append(float((wa * w2.ravel()[None, :])[z2 >= crit[1]].sum()))
    return out


EXACT = sorted(FIXTURE["exact"])


@pytest.mark.parametrize("name", EXACT)
def test_statistic_enumerated_equals_metafor_enumeration(name):
    case = FIXTURE["exact"][name]
    assert exact_reject(case) == pytest.approx(np.atleast_1d(case["reject_by_look"]).tolist(), rel=1e-9, abs=1e-14)


@pytest.mark.parametrize("name", EXACT)
def test_simulated_rejection_equals_the_exact_probability(name):
    case = FIXTURE["exact"][name]
    n1, n0 = np.atleast_1d(case["n_treatment"]), np.atleast_1d(case["n_control"])
    endpoint = BinaryRatioEndpoint(case["p_control"], case["p_treatment"], tuple(float(x) for x in n1 + n0),
                                   ratio=n1[-1] / n0[-1], higher_is_better=case["higher_is_better"],
                                   measure=case["measure"])
    oc = simulate_group_sequential(endpoint, SequentialPlan(tuple(np.atleast_1d(case["critical_values"]))),
                                   null=case["p_control"] == case["p_treatment"], n_trials=N, seed=31)
    for k, exact in enumerate(np.atleast_1d(case["reject_by_look"])):
        assert close(oc.efficacy_by_look[k], float(exact), N, None), (name, k, oc.efficacy_by_look[k], exact)


@pytest.mark.parametrize("j", [0, 1], ids=["null", "alternative"])
def test_agrees_with_rpact_where_the_statistics_should(j):
    design = pytest.importorskip("equipoise.design")
    case = FIXTURE["rpact_cases"]["rr_asof3"]
    endpoint = BinaryRatioEndpoint(case["pi_control"], case["pi_treatment"][j], tuple(case["planned_subjects"]),
                                   higher_is_better=case["direction_upper"], measure="risk-ratio")
    oc = simulate_group_sequential(endpoint, SequentialPlan(tuple(case["critical_values"])), null=j == 0,
                                   n_trials=N, seed=40 + j)
    m = case["iterations"]
    slack = 0.0
    if j == 1:  # rpact's score test vs our Wald test: their normal-approximation powers differ by this much
        gs = design.gsd(looks=3, alpha=0.025, sided=1, spending="obf")
        powers = [design.power("binary", case["planned_subjects"][-1], design=gs, p_control=case["pi_control"],
                               p_treatment=case["pi_treatment"][j], effect_measure="risk-ratio", variance=v).power
                  for v in ("pooled", "unpooled")]
        slack = abs(powers[0] - powers[1])
        assert slack < 0.01
    assert close(oc.rejection_probability, case["overall_reject"][j], N, m, slack)
    for k, theirs in enumerate(case["reject_by_look"][j]):
        assert close(oc.efficacy_by_look[k], theirs, N, m, slack), (k, oc.efficacy_by_look[k], theirs)


@pytest.mark.parametrize("measure", ["risk-ratio", "odds-ratio"])
def test_design_sized_for_the_wald_test_has_its_power_and_alpha(measure):
    design = pytest.importorskip("equipoise.design")
    gs = design.gsd(looks=3, alpha=0.025, sided=1, spending="obf", beta=0.2, futility_spending="hsd",
                    futility_gamma=-2)
    size = design.sample_size("binary", p_control=0.3, p_treatment=0.18, power=0.8, design=gs,
                              effect_measure=measure, variance="unpooled")
    looks = tuple(float(math.ceil(n)) for n in size.n_per_look)
    plan = SequentialPlan.from_design(gs)
    power = simulate_group_sequential(BinaryRatioEndpoint(0.3, 0.18, looks, higher_is_better=False,
                                                          measure=measure), plan, n_trials=N, seed=51)
    assert close(power.rejection_probability_futility_obeyed, 0.8, N, None, 0.02), power
    alpha = simulate_group_sequential(BinaryRatioEndpoint(0.3, 0.3, looks, higher_is_better=False, measure=measure),
                                      plan, n_trials=N, seed=52)
    assert close(alpha.rejection_probability, 0.025, N, None, 0.003), alpha
    # the estimate is the log ratio; its naive interval covers the truth about 95% of the time at a fixed look
    truth = math.log(0.18 / 0.3) if measure == "risk-ratio" else math.log(0.18 / 0.82 / (0.3 / 0.7))
    assert power.true_effect == pytest.approx(truth)


def test_zero_cells_get_half_added_to_every_cell():
    est, se = log_ratio_wald(np.array([0.0]), np.array([10.0]), np.array([3.0]), np.array([10.0]), "odds-ratio")
    assert est[0] == pytest.approx(math.log(0.5 * 7.5 / (10.5 * 3.5)))
    assert se[0] == pytest.approx(math.sqrt(1 / 0.5 + 1 / 10.5 + 1 / 3.5 + 1 / 7.5))
    est, se = log_ratio_wald(np.array([2.0]), np.array([10.0]), np.array([3.0]), np.array([10.0]), "risk-ratio")
    assert est[0] == pytest.approx(math.log(0.2 / 0.3))
    assert se[0] == pytest.approx(math.sqrt(1 / 2 - 1 / 10 + 1 / 3 - 1 / 10))


def test_ratio_endpoint_refuses_degenerate_risks():
    with pytest.raises(UserError, match="strictly between 0 and 1"):
        BinaryRatioEndpoint(0.2, 0.0, (100.0,))
    with pytest.raises(UserError, match="risk-ratio or odds-ratio"):
        BinaryRatioEndpoint(0.2, 0.1, (100.0,), measure="difference")  # type: ignore[arg-type]
