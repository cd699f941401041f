"""The visit schedule as a pure function: windows from day 0, and each form's state on a given day."""

from __future__ import annotations

import datetime as dt

from equipoise.protocol import load_protocol
from equipoise.services.schedule import FormDue, schedule, window_warning
from tests.store.support import DEMO

PROTOCOL = load_protocol(DEMO)
DAY0 = dt.date(2020, 4, 1)


def _state(items: list[FormDue], form: str, visit: str) -> tuple[str, bool]:
    item = next(i for i in items if i.form_id == form and i.visit_id == visit)
    return item.state, item.late


def test_windows_open_and_close_around_the_visit_day():
    items = schedule(PROTOCOL, anchor=DAY0, provisional_anchor=DAY0, today=DAY0, saved={})
    day14 = next(i for i in items if i.form_id == "clinical_status" and i.visit_id == "day14")
    assert (day14.target, day14.opens, day14.closes) == (dt.date(2020, 4, 15), dt.date(2020, 4, 13),
                                                          dt.date(2020, 4, 17))
    assert [i.visit_id for i in items][:3] == ["baseline", "baseline", "baseline"]
    assert len(items) == sum(len(f.visits) for f in PROTOCOL.forms)


def test_states_on_the_edges_of_a_window():
    def state_on(day: dt.date, saved: dict[tuple[str, str], str] | None = None) -> tuple[str, bool]:
        items = schedule(PROTOCOL, anchor=DAY0, provisional_anchor=DAY0, today=day, saved=saved or {})
        return _state(items, "clinical_status", "day14")

    assert state_on(dt.date(2020, 4, 12)) == ("upcoming", False)
    assert state_on(dt.date(2020, 4, 13)) == ("due", False)
    assert state_on(dt.date(2020, 4, 17)) == ("due", False)
    assert state_on(dt.date(2020, 4, 18)) == ("overdue", True)
    assert state_on(dt.date(2020, 4, 18), {("clinical_status", "day14"): "incomplete"}) == ("incomplete", True)
    assert state_on(dt.date(2020, 4, 18), {("clinical_status", "day14"): "complete"}) == ("complete", False)
    assert state_on(dt.date(2020, 4, 18), {("clinical_status", "day14"): "not-done"}) == ("not-done", False)


def test_before_randomization_only_day_0_forms_are_scheduled():
    items = schedule(PROTOCOL, anchor=None, provisional_anchor=DAY0, today=dt.date(2020, 4, 3), saved={})
    assert _state(items, "clinical_status", "baseline") == ("overdue", True)
    assert _state(items, "clinical_status", "day3") == ("awaiting-randomization", False)


def test_entering_a_visit_before_its_window_gives_a_warning():
    assert window_warning(PROTOCOL, "day28", DAY0, dt.date(2020, 4, 10)) == (
        "visit day28 (day 28) opens on 2020-04-26: check that this is the right visit")
    assert window_warning(PROTOCOL, "day28", DAY0, dt.date(2020, 4, 26)) is None


def test_the_serious_adverse_event_log_is_expected_only_after_a_yes():
    def ae_on(day: dt.date, answer: bool | None, saved: dict[tuple[str, str], str] | None = None) -> tuple[str, bool]:
        answers = {} if answer is None else {("sae_check", "day7"): {"any_sae": answer}}
        items = schedule(PROTOCOL, anchor=DAY0, provisional_anchor=DAY0, today=day, saved=saved or {},
                         answers=answers)
        return _state(items, "adverse_event", "day7")

    late = dt.date(2020, 4, 20)
    assert ae_on(late, None) == ("conditional", False)  # the question is the overdue form, not the log
    assert ae_on(late, False) == ("not-needed", False)
    assert ae_on(late, True) == ("overdue", True)
    assert ae_on(dt.date(2020, 4, 8), True) == ("due", False)
    assert ae_on(late, True, {("adverse_event", "day7"): "complete"}) == ("complete", False)
    items = schedule(PROTOCOL, anchor=DAY0, provisional_anchor=DAY0, today=late, saved={})
    assert _state(items, "sae_check", "day7") == ("overdue", True)


def test_after_a_death_only_the_forms_that_record_an_outcome_are_still_expected():
    died = dt.date(2020, 4, 5)  # day 4: after the day-3 visit opened
    items = schedule(PROTOCOL, anchor=DAY0, provisional_anchor=DAY0, today=dt.date(2020, 5, 5), saved={},
                     off_study=died, off_study_kind="died")
    expected = {(i.form_id, i.visit_id) for i in items if i.state != "off-study" and i.visit_id not in
                ("baseline", "day3")}
    # the day-28 WHO level and outcome (death is their value) and the day-14 CT of the CT outcome
    assert expected == {("clinical_status", "day28"), ("outcome", "day28"), ("imaging", "day14")}
    assert _state(items, "outcome", "day28") == ("overdue", True)
    assert _state(items, "infusion", "day3") == ("overdue", True)  # opened before the death
    lost = schedule(PROTOCOL, anchor=DAY0, provisional_anchor=DAY0, today=dt.date(2020, 5, 5), saved={},
                    off_study=died, off_study_kind="lost-to-follow-up")
    assert _state(lost, "outcome", "day28") == ("off-study", False)
