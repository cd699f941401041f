"""A time-to-discharge primary simulated from the natural history's virtual patients (not from an exponential):
the per-patient law is the paths' own, the control arm's median time to discharge is the natural history's
(the calibrated ACTT-1 placebo target), and the simulated log-rank statistic is the one `analyze protocol`
computes on the same patients."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from equipoise.analyze.protocol_analysis import run_protocol
from equipoise.errors import UserError
from equipoise.protocol import load_protocol
from equipoise.simulate.day_events import DayEventEndpoint, day_event_law, logrank_by_day
from equipoise.simulate.group_sequential import simulate_group_sequential
from equipoise.simulate.natural_history import Paths, load_natural_history
from equipoise.simulate.natural_history.calibration import median_crossing, statistic
from equipoise.simulate.natural_history.model import DEAD
from equipoise.simulate.protocol import Effect, build

MODEL = load_natural_history()
POP = MODEL.population(name="actt1-placebo")


def protocol_file(examples: Path, tmp_path: Path, outcome: str = "time_to_discharge", better: str = "lower",
                  competing: str = "[death]", sided: int = 1) -> Path:
    """The MSC RCT with a time-to-event primary analysed by the log-rank test."""
    text = (examples / "covid19-msc-rct.yaml").read_text(encoding="utf-8")
    start, end = text.index("  primary:\n"), text.index("  secondary:\n")
    text = text[:start] + f"  primary:\n    outcome: {outcome}\n    method: logrank\n" + text[end:]
    text = text.replace("    competing_events: [death]\n", f"    competing_events: {competing}\n")
    text = text.replace("    better: lower\n    event: discharged alive",
                        f"    better: {better}\n    event: discharged alive")
    text = text.replace("  sided: 1\n", f"  sided: {sided}\n")
    path = tmp_path / "ttd.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def virtual_patients(n: int, seed: int, odds_ratio: float = 1.0) -> Paths:
    rng = np.random.default_rng(seed)
    start = rng.choice(list(POP.start), size=n, p=list(POP.start.values()))
    shift = np.array([MODEL.age_shift[g] for g in POP.age])[rng.choice(len(POP.age), size=n,
                                                                        p=list(POP.age.values()))]
    return Paths(MODEL.simulate_paths(start, shift + POP.setting_shift, rng, np.log(odds_ratio), days=28))


@pytest.mark.parametrize("odds_ratio", [1.0, 1.6])
def test_the_law_is_that_of_the_virtual_patients_paths(odds_ratio):
    law = day_event_law(MODEL, POP, 28, "discharge", competing=True, odds_ratio=odds_ratio)
    n = 60_000
    paths = virtual_patients(n, 5, odds_ratio)
    day, discharged = paths.time_to_discharge()
    dead = paths.levels == DEAD
    death_day = np.where(dead.any(axis=1), dead.argmax(axis=1), 99)
    for d in range(29):
        # cumulative incidences by day d: within 4 binomial SEs
        tol = 4 * np.sqrt(0.25 / n)
        assert np.cumsum(law.event)[d] == pytest.approx(np.mean(discharged & (day <= d)), abs=tol)
        assert np.cumsum(law.competing)[d] == pytest.approx(np.mean(death_day <= d), abs=tol)


def test_control_median_time_to_discharge_is_the_natural_historys(examples, tmp_path):
    sim = build(load_protocol(protocol_file(examples, tmp_path)), Effect.parse("none"), MODEL, POP)
    endpoint = sim.endpoint
    assert isinstance(endpoint, DayEventEndpoint)
    _, control = endpoint.counts(200, np.random.default_rng(8))
    last = control[:, -1].sum(axis=0)  # 200 trials' control arms at the final look, pooled
    patients = last.sum()
    assert patients == 200 * 315
    simulated = median_crossing(np.cumsum(last[:29]) / patients)
    model = statistic(MODEL, "actt1-placebo", "median_recovery_days", 28)
    assert simulated == pytest.approx(model, abs=0.25)  # SE about 0.06 day
    assert model == pytest.approx(15.0, abs=1.5)  # the calibrated ACTT-1 placebo median
    day, discharged = virtual_patients(200_000, 6).time_to_discharge()
    paths_median = median_crossing(np.array([np.mean(discharged & (day <= d)) for d in range(29)]))
    assert simulated == pytest.approx(paths_median, abs=0.25)


def test_simulated_logrank_is_what_analyze_protocol_computes(examples, tmp_path):
    protocol = load_protocol(protocol_file(examples, tmp_path))
    endpoint = build(protocol, Effect.parse("or=1.4"), MODEL, POP).endpoint
    assert isinstance(endpoint, DayEventEndpoint)
    rng = np.random.default_rng(3)
    data = endpoint.looks(3, np.random.default_rng(3))
    treated, control = endpoint.counts(3, rng)
    h1 = 29
    for trial in range(3):
        rows = []
        for arm, counts in (("msc", treated[trial, -1]), ("placebo", control[trial, -1])):
            for category, count in enumerate(counts):
                kind, day = divmod(category, h1)
                status, time = ((1, day) if kind == 0 else (2, day) if kind == 1 else (0, 28))
                rows += [{"arm": arm, "time_to_discharge_time": float(time),
                          "time_to_discharge_status": status}] * int(count)
        result = run_protocol(protocol, pd.DataFrame(rows), which="primary").comparisons[0].result
        o_minus_e = result.logrank.observed[0] - result.logrank.expected[0]  # type: ignore[union-attr]
        # same random stream: looks() and counts() draw identically
        assert data.estimate[trial, -1] * (1 / data.se[trial, -1] ** 2) == pytest.approx(o_minus_e, rel=1e-9)
        assert data.z[trial, -1] ** 2 == pytest.approx(result.logrank.chisq, rel=1e-9)  # type: ignore[union-attr]
        assert np.sign(data.z[trial, -1]) == np.sign(o_minus_e)  # earlier discharge is better: O > E favours msc


def test_type_one_error_power_and_direction(examples, tmp_path):
    protocol = load_protocol(protocol_file(examples, tmp_path))
    null = build(protocol, Effect.parse("none"), MODEL, POP)
    n = 6000
    oc = simulate_group_sequential(null.endpoint, null.plan, null=True, n_trials=n, seed=21)
    assert abs(oc.rejection_probability - 0.025) <= 3.5 * np.sqrt(0.025 * 0.975 / n)
    assert oc.expected_events is not None
    assert oc.expected_events > 0
    alt = build(protocol, Effect.parse("or=1.6"), MODEL, POP)
    power = simulate_group_sequential(alt.endpoint, alt.plan, null=False, n_trials=2000, seed=22)
    assert alt.endpoint.true_effect > 0.1  # faster discharge: a cause-specific hazard ratio above 1
    assert power.rejection_probability > 0.7
    assert abs(power.mean_estimate - alt.endpoint.true_effect) < 0.05
    harm = build(protocol, Effect.parse("or=0.7"), MODEL, POP)
    assert simulate_group_sequential(harm.endpoint, harm.plan, n_trials=2000, seed=23).rejection_probability < 0.01
    assert any("virtual patients' paths" in note for note in alt.notes)


def test_death_not_competing_is_followed_to_the_horizon_and_time_to_death(examples, tmp_path):
    path = protocol_file(examples, tmp_path, competing="[]")
    endpoint = build(load_protocol(path), Effect.parse("none"), MODEL, POP).endpoint
    assert isinstance(endpoint, DayEventEndpoint)
    assert sum(endpoint.control.competing) == 0  # deaths are censored at day 28, as analyze's event_time does
    text = path.read_text(encoding="utf-8").replace("outcome: time_to_discharge\n    method: logrank",
                                                    "outcome: time_to_death\n    method: logrank")
    text = text.replace("outcomes:\n", "outcomes:\n  - {id: time_to_death, name: Time to death, type: time-to-event, "
                        "day: 28, better: higher, event: death}\n", 1)
    path.write_text(text, encoding="utf-8")
    protocol = load_protocol(path)
    death = build(protocol, Effect.parse("or=1.5"), MODEL, POP)
    assert isinstance(death.endpoint, DayEventEndpoint)
    assert sum(death.endpoint.control.event) == pytest.approx(
        MODEL.state_distribution(POP, days=28)[28, DEAD], abs=1e-12)
    assert death.endpoint.true_effect < 0  # fewer deaths
    oc = simulate_group_sequential(death.endpoint, death.plan, n_trials=1000, seed=24)
    assert oc.rejection_probability > 0.025  # z is oriented: fewer deaths count as benefit


def test_unknown_event_is_refused(examples, tmp_path):
    path = protocol_file(examples, tmp_path)
    text = path.read_text(encoding="utf-8").replace("event: discharged alive", "event: weaned from oxygen")
    text = text.replace("id: time_to_discharge", "id: time_to_weaning").replace(
        "outcome: time_to_discharge", "outcome: time_to_weaning")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError, match="day of discharge and of death"):
        build(load_protocol(path), Effect.parse("none"), MODEL, POP)


def test_logrank_by_day_matches_a_hand_computed_table():
    # day 1: 2 events in 4 at risk (1 experimental of 2); day 2: 1 event, 1 censored (competing), 2 at risk
    e_exp, c_exp = np.array([0.0, 1, 0]), np.array([0.0, 0, 1])
    e_ctl, c_ctl = np.array([0.0, 1, 1]), np.array([0.0, 0, 0])
    u, v = logrank_by_day(e_exp, c_exp, e_ctl, c_ctl, np.array(2.0), np.array(2.0))
    # day 1: E = 2 * 2/4 = 1, V = 2 * 2 * 2 * 2 / (16 * 3) = 1/3; day 2: E = 1 * 1/2, V = 1 * 1 * 1 * 1 / (4 * 1)
    assert float(u) == pytest.approx((1 - 1) + (0 - 0.5))
    assert float(v) == pytest.approx(1 / 3 + 1 / 4)
