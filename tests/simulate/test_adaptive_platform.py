"""Simulating a protocol's adaptive platform: the same rules on virtual patients, checked against the
adaptr-validated platform engine (``simulate_platform`` reproduces adaptr's README scenario, test_platform.py),
with accrual, lag and arms entering by amendment date; bit-identical on a Dask cluster."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from equipoise.protocol import load_protocol
from equipoise.protocol.adaptive_platform import (
    Action,
    AdaptivePlatform,
    Allocation,
    AllocationRule,
    AnalysisSchedule,
    DecisionRule,
    DecisionRules,
    OutcomeModel,
    PlatformModel,
)
from equipoise.simulate.adaptive_platform import AdaptivePlatformDesign, PlatformTask, Scenario, data_looks
from equipoise.simulate.adaptive_platform_protocol import design_from_protocol, scenario_from_text
from equipoise.simulate.adaptive_platform_result import simulate_adaptive_platform
from equipoise.simulate.engine import run_chunks
from equipoise.simulate.platform import PlatformDesign, _PlatformTask
from tests.conftest import EXAMPLES

FILE = EXAMPLES / "covid19-adaptive-platform.yaml"
RULES = AdaptivePlatform(
    outcome="death", model=OutcomeModel(type=PlatformModel.BETA_BINOMIAL),
    analyses=AnalysisSchedule(every_patients=300, max_patients=1500), allocation=Allocation(rule=AllocationRule.FIXED),
    decisions=DecisionRules(superiority=DecisionRule(probability=0.99, action=Action.DROP_ARM),
                            inferiority=DecisionRule(probability=0.01, action=Action.DROP_ARM)))


def test_same_operating_characteristics_as_the_adaptr_validated_engine():
    """A common-control binary platform with fixed allocation, no lag and looks every 300 patients, in both
    engines: per-arm P(superiority) and P(inferiority) and the mean size agree to Monte Carlo error."""
    n = 2000
    rates = (0.25, 0.18, 0.25)
    design = AdaptivePlatformDesign(arms=("ctrl", "a", "b"), control=0, weights=(1, 1, 1), entry_day=(0, 0, 0),
                                    rules=RULES, lower_is_better=True, lag_days=0, accrual_per_day=10, n_levels=2)
    ours = run_chunks(PlatformTask(design, Scenario("x", rates=rates)), n, 3, chunk_size=500)
    theirs = run_chunks(_PlatformTask(PlatformDesign(
        arms=("ctrl", "a", "b"), true_rates=rates, control="ctrl", adaptive=False,
        data_looks=tuple(range(300, 1501, 300)), superiority=0.99, inferiority=0.01)), n, 4, chunk_size=500)
    for arm in (1, 2):
        for ours_p, theirs_p in ((np.mean(ours["decision"][:, arm] == 1), np.mean(theirs["superior"][:, arm])),
                                 (np.mean(ours["decision"][:, arm] == 2), np.mean(theirs["dropped"][:, arm]))):
            p = (ours_p + theirs_p) / 2
            assert abs(ours_p - theirs_p) <= 4 * math.sqrt(2 * max(p * (1 - p), 1e-4) / n) + 1e-9
    assert abs(ours["size"].mean() - theirs["size"].mean()) <= 4 * math.sqrt(2 * theirs["size"].var() / n) + 1


def test_protocol_platform_null_and_alternative():
    protocol = load_protocol(FILE)
    design = design_from_protocol(protocol, accrual_per_day=10)
    assert design.arms == ("usual_care", "msc", "tocilizumab", "dexamethasone", "baricitinib")
    assert design.entry_day[-1] == 153  # the amendment's date, days after the trial began
    assert design.lag_days == 28
    assert design.n_levels == 11
    null = simulate_adaptive_platform(design, scenario_from_text(protocol, design, "null"), n_trials=60, seed=2)
    assert null.best_arm is None
    assert null.family_wise_error is not None
    assert all(a.null for a in null.arms if not a.is_control)
    baricitinib = null.allocation_by_look["baricitinib"]
    assert baricitinib[0] == 0  # not open at the first analysis (day ~58)
    assert max(baricitinib) > 0.1
    assert null.expected_size <= 3000
    assert null.expected_duration_days > 28
    alt = simulate_adaptive_platform(design, scenario_from_text(protocol, design, "dexamethasone=0.6"), n_trials=60,
                                     seed=2)
    assert alt.best_arm == "dexamethasone"
    assert alt.power["dexamethasone"] > 0.8
    assert alt.probability_select_best > 0.7
    dex = next(a for a in alt.arms if a.arm == "dexamethasone")
    assert dex.true_effect == pytest.approx(math.log(0.6))
    assert sum(sum(v) for v in alt.decisions_by_look.values()) == pytest.approx(
        sum(sum(a.decisions.values()) for a in alt.arms))


def test_cli_prints_per_arm_characteristics_and_plots(run_cli, tmp_path):
    png = tmp_path / "platform.png"
    r = run_cli("simulate", "protocol", FILE, "--scenario", "dexamethasone=0.7", "-n", "20", "--plot", png)
    assert r.code == 0, r.stderr
    assert "P(sup)" in r.stdout
    assert "family-wise" in r.stdout
    assert png.stat().st_size > 10_000
    j = run_cli("simulate", "protocol", FILE, "--scenario", "null", "-n", "10", "--json")
    data = json.loads(j.stdout)
    assert data["design"] == "adaptive-platform"
    assert len(data["arms"]) == 5


@pytest.mark.parametrize(("scenario", "message"), [
    ("remdesivir=0.8", "unknown arm 'remdesivir'"), ("dexamethasone", "expected null"),
    ("dexamethasone=-1", "expected null"), ("usual_care=0.9", "takes none")])
def test_bad_scenarios(run_cli, scenario, message):
    r = run_cli("simulate", "protocol", FILE, "--scenario", scenario, "-n", "10")
    assert r.code == 2
    assert message in r.stderr


def test_promote_to_control():
    """A clearly better arm becomes the control; the old control stops recruiting and the others go on against
    the new one."""
    rules = RULES.model_copy(update={"decisions": DecisionRules(
        superiority=DecisionRule(probability=0.99, action=Action.PROMOTE_TO_CONTROL),
        inferiority=DecisionRule(probability=0.01, action=Action.DROP_ARM))})
    design = AdaptivePlatformDesign(arms=("ctrl", "a", "b"), control=0, weights=(1, 1, 1), entry_day=(0, 0, 0),
                                    rules=rules, lower_is_better=True, lag_days=0, accrual_per_day=10, n_levels=2)
    rec = run_chunks(PlatformTask(design, Scenario("x", rates=(0.30, 0.15, 0.25))), 200, 7, chunk_size=100)
    promoted = rec["control"] == 1
    assert promoted.mean() > 0.8
    assert np.all(rec["decision"][promoted, 1] == 1)  # the promoted arm was declared superior
    # after its promotion the old control recruits no more: its patients stop at the promotion's look
    look = rec["decision_look"][promoted, 1]
    first_looks = np.array(data_looks(design))[look]
    assert np.all(rec["arm_n"][promoted, 0] <= first_looks)
    assert np.any(rec["arm_n"][promoted, 2] > rec["arm_n"][promoted, 0])  # b goes on, against a
    result = simulate_adaptive_platform(design, Scenario("x", rates=(0.30, 0.15, 0.25)), n_trials=100, seed=7)
    assert result.power["a"] > 0.8


@pytest.mark.slow
def test_dask_cluster_gives_bit_identical_results():
    distributed = pytest.importorskip("distributed")
    protocol = load_protocol(FILE)
    design = design_from_protocol(protocol, accrual_per_day=10)
    scenario = scenario_from_text(protocol, design, "dexamethasone=0.7")
    local = simulate_adaptive_platform(design, scenario, n_trials=24, seed=5, chunk_size=6)
    cluster_args = {"n_workers": 2, "threads_per_worker": 1, "processes": True, "dashboard_address": None}
    with distributed.LocalCluster(**cluster_args) as cluster, distributed.Client(cluster) as client:
        remote = simulate_adaptive_platform(design, scenario, n_trials=24, seed=5, chunk_size=6, scheduler=client)
    assert remote.to_dict() == local.to_dict()


def test_calendar_schedule():
    """Analyses every 30 days: the first has the patients whose outcome is known by day 30, the last all."""
    rules = RULES.model_copy(update={"analyses": AnalysisSchedule(every_days=30, max_patients=600)})
    design = AdaptivePlatformDesign(arms=("ctrl", "a"), control=0, weights=(1, 1), entry_day=(0, 0), rules=rules,
                                    lower_is_better=True, lag_days=10, accrual_per_day=5, n_levels=2)
    rec = run_chunks(PlatformTask(design, Scenario("x", rates=(0.3, 0.3))), 40, 11, chunk_size=20)
    days = rec["look_day"]
    assert np.nanmin(days[:, 0]) == 30
    assert np.all(np.diff(days[:, :3], axis=1) == 30)
    ran_out = rec["decision"][:, 1] == 0
    assert np.all(rec["size"][ran_out] == 600)
    assert np.all(rec["duration"][ran_out] > 600 / 5)  # accrual takes about 120 days, then 10 days of follow-up
