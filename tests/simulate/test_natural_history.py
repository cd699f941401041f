"""The calibrated natural history reproduces each published target within the tolerance stated in its file."""

import dataclasses

import numpy as np
import pytest

from equipoise.errors import UserError
from equipoise.simulate.natural_history import Paths, check, load_natural_history
from equipoise.simulate.natural_history.model import DEAD, Population

MODEL = load_natural_history("covid19")
CHECKS = check(MODEL)


@pytest.mark.parametrize("target", CHECKS, ids=[c.id for c in CHECKS])
def test_calibration_target_within_tolerance(target):
    assert target.source  # every target names its publication
    assert abs(target.model - target.target) <= target.tolerance, str(target)


def test_the_issue_targets_are_all_there():
    values = {c.id: c.target for c in CHECKS}
    assert values["recovery-usual-care-no-oxygen"] == pytest.approx(0.14)
    assert values["recovery-usual-care-oxygen"] == pytest.approx(0.262)
    assert values["recovery-usual-care-ventilated"] == pytest.approx(0.414)
    assert values["actt1-placebo-median-recovery"] == 15
    assert values["actt1-placebo-mortality"] == pytest.approx(0.152)
    assert values["china-cdc-critical-case-fatality"] == pytest.approx(0.49)


def test_patient_paths_agree_with_the_exact_state_distribution():
    """Monte Carlo paths vs the Gauss-Hermite forward computation: same model, two algorithms."""
    pop = MODEL.population(name="recovery-oxygen")
    exact = MODEL.state_distribution(pop)
    rng = np.random.default_rng(7)
    n = 40_000
    start = rng.choice(list(pop.start), size=n, p=list(pop.start.values()))
    groups = list(pop.age)
    shift = np.array([MODEL.age_shift[g] for g in groups])[rng.choice(3, size=n, p=list(pop.age.values()))]
    paths = MODEL.simulate_paths(start, shift + pop.setting_shift, rng)
    for day in (7, 14, 28):
        observed = np.bincount(paths[:, day], minlength=11) / n
        se = np.sqrt(exact[day] * (1 - exact[day]) / n)
        assert np.all(np.abs(observed - exact[day]) <= 4 * se + 1e-4), day


def test_treatment_odds_ratio_is_a_proportional_odds_shift_towards_better_levels():
    pop = MODEL.population(name="recovery-oxygen")
    base = MODEL.state_distribution(pop)[28]
    better = MODEL.state_distribution(pop, odds_ratio=1.5)[28]
    assert better[DEAD] < base[DEAD]
    assert better[:4].sum() > base[:4].sum()
    harmed = MODEL.state_distribution(pop, harm=2.0)[28]
    assert harmed[DEAD] > base[DEAD]


def test_paths_outcome_definitions():
    levels = np.array([[5, 6, 6, 5, 5, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3],
                       [7, 8, 9, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10],
                       [4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4]], dtype=np.int8)
    p = Paths(levels, ct_lag_days=7)
    assert p.improved_at(15).tolist() == [True, False, False]
    assert p.improved_at(3).tolist() == [False, False, False]
    assert p.improved_at(5).tolist() == [True, False, False]
    assert p.dead_by(3).tolist() == [False, True, False]
    assert p.discharged_by(15).tolist() == [True, False, False]
    day, event = p.time_to_discharge()
    assert day.tolist() == [15, 15, 15]
    assert event.tolist() == [True, False, False]
    # last worsening on day 1: CT counts as improved from day 8 on; a stable patient from day 7 on
    assert p.ct_improved_at(7).tolist() == [False, False, True]
    assert p.ct_improved_at(8).tolist() == [True, False, True]
    with pytest.raises(ValueError, match="outside"):
        p.who_at(16)


def test_bad_parameter_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no such parameter file"):
        load_natural_history(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n", encoding="utf-8")
    with pytest.raises(UserError, match="missing key"):
        load_natural_history(bad)
    with pytest.raises(UserError, match="sum to 1"):
        Population({4: 0.5}, {"50-69": 1.0})
    broken = dataclasses.replace(MODEL, death={**MODEL.death, 5: 0.99})
    with pytest.raises(UserError, match="not valid"):
        _ = broken.thresholds
