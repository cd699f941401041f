"""What the trial server's data brought to light in the other layers, checked on its own: interim data that are
sparse (R: tests/reference/integration.R), the event-time rule shared by the export and the analysis, and the
virtual patients' forms agreeing with their natural history."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from equipoise.analyze.binary import compare_binary
from equipoise.analyze.events import event_time
from equipoise.analyze.ordinal import compare_ordinal
from equipoise.protocol import load_protocol
from equipoise.simulate import load_natural_history
from equipoise.simulate.casebooks import casebook, screen
from equipoise.simulate.natural_history.model import DEAD, DISCHARGED
from tests.store.support import DEMO

FIXTURE = json.loads((Path(__file__).resolve().parents[1] / "reference" / "fixtures" / "integration.json")
                     .read_text(encoding="utf-8"))


def test_mantel_haenszel_with_no_event_in_one_arm_matches_r():
    f = FIXTURE["mh_zero_arm"]
    y, arm, stratum = [], [], []
    for k, (x1, n1, x0, n0) in enumerate(zip(f["x1"], f["n1"], f["x0"], f["n0"], strict=True)):
        for events, n, name in ((x1, n1, "msc"), (x0, n0, "placebo")):
            y += [1] * events + [0] * (n - events)
            arm += [name] * n
            stratum += [str(k)] * n
    r = compare_binary(np.array(y), np.array(arm), experimental="msc", control="placebo", strata=np.array(stratum),
                       better="lower")
    assert r.stratified is not None
    assert r.stratified.cmh_chisq == pytest.approx(f["cmh_chisq"], rel=1e-9)
    assert r.stratified.cmh_p == pytest.approx(f["cmh_p"], rel=1e-9)
    rd = r.risk_difference
    assert (rd.estimate, rd.se) == pytest.approx((f["rd"], f["rd_se"]), rel=1e-9)
    assert (rd.ci_low, rd.ci_high) == pytest.approx(f["rd_ci"], rel=1e-6)
    assert r.odds_ratio.estimate == f["or_estimate"] == 0  # mantelhaen.test: 0, with a NaN interval
    assert f["or_ci_is_nan"]
    assert math.isnan(r.odds_ratio.ci_low)
    assert math.isnan(r.odds_ratio.ci_high)
    assert r.risk_ratio.estimate == 0
    assert math.isnan(r.risk_ratio.ci_low)
    assert "no events in one arm" in str(r)


def test_proportional_odds_test_is_withheld_when_the_partial_model_is_invalid_as_in_r():
    f = FIXTURE["po_sparse"]
    y = np.concatenate([np.repeat(f["levels"], f["placebo"]), np.repeat(f["levels"], f["msc"])])
    arm = np.array(["placebo"] * sum(f["placebo"]) + ["msc"] * sum(f["msc"]))
    r = compare_ordinal(y, arm, experimental="msc", control="placebo")  # clm's orientation: odds of a higher level
    assert r.log_odds_ratio == pytest.approx(f["po_log_or"], rel=1e-5)
    assert r.se == pytest.approx(f["po_se"], rel=1e-5)
    assert f["nominal_convergence"] == -3
    assert not f["nominal_thresholds_increase"]
    assert r.po_test is None
    assert any("thresholds cross" in note for note in r.notes)


def test_proportional_odds_test_from_a_warm_start_is_never_below_the_nested_model():
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(30, 90))
        arm = np.where(rng.random(n) < 0.5, "a", "b")
        y = np.clip(np.round(rng.normal(4 + (arm == "a"), 2.5)), 0, 10)
        r = compare_ordinal(y, arm, experimental="a", control="b")
        if r.po_test is not None:
            assert r.po_test.chisq >= 0
            assert 0 <= r.po_test.p_value <= 1


@pytest.mark.parametrize(("event", "death", "expected"), [
    (10, None, (10.0, 1)), (28, None, (28.0, 1)), (29, None, (28.0, 0)), (None, 5, (5.0, 2)),
    (None, 30, (28.0, 0)), (None, None, (28.0, 0)), (0, None, (0.0, 1)),
])
def test_event_time_counts_day_28_and_lets_death_compete(event: int | None, death: int | None,
                                                         expected: tuple[float, int]):
    start = dt.date(2020, 4, 1)

    def day(d: int | None) -> dt.date | None:
        return None if d is None else start + dt.timedelta(days=d)

    assert event_time(start, day(event), day(death), 28.0) == expected


def test_virtual_patients_forms_follow_their_course_and_the_protocol():
    protocol, nh = load_protocol(DEMO), load_natural_history()
    as_of = dt.datetime(2025, 6, 30, 20, tzinfo=dt.UTC)
    candidates = screen(protocol, nh, patients=150, seed=11, as_of=as_of)
    again = screen(protocol, nh, patients=150, seed=11, as_of=as_of)
    assert [(c.values, c.screened_at, c.courses) for c in candidates] == \
           [(c.values, c.screened_at, c.courses) for c in again]  # reproducible from the seed
    assert sum(c.eligible for c in candidates) == 150
    assert len(candidates) > 150
    assert all(c.screened_at <= as_of for c in candidates)
    for c in candidates:
        if not c.eligible:
            continue
        for experimental in (False, True):
            levels = c.courses[experimental]
            assert levels[0] == c.values["who_baseline"]
            start = c.screened_at + dt.timedelta(minutes=20)
            forms = {(e.form_id, e.visit_id): e for e in casebook(
                protocol, c, experimental=experimental, randomised_at=start, kit_code="MSC-X", as_of=as_of, seed=11)}
            outcome = forms.get(("outcome", "day28"))
            if outcome is None or outcome.values is None:
                continue
            day0 = start.astimezone(ZoneInfo(c.timezone)).date()
            died = DEAD in levels
            assert outcome.values["died"] == died
            if died:
                assert outcome.values["death_date"] == (day0 + dt.timedelta(days=levels.index(DEAD))).isoformat()
            home = [d for d, lv in enumerate(levels) if lv <= DISCHARGED]
            assert outcome.values.get("discharge_date") == (
                (day0 + dt.timedelta(days=home[0])).isoformat() if home else None)
            status = forms.get(("clinical_status", "day28"))
            if status is not None and status.values is not None:
                assert (status.values["who_score"] == DEAD) == died
            for e in forms.values():
                assert e.entered_at <= as_of
                assert e.entered_at > start
                for k, v in (e.values or {}).items():
                    if k.endswith("_date") and v:
                        assert dt.date.fromisoformat(v) <= e.entered_at.date() + dt.timedelta(days=1), (e, k)
