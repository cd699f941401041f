"""The visit schedule of one patient: when each form is due, and whether it is done, due, overdue or upcoming.

A visit on day d with window [early, late] is due from day 0 + d + early to day 0 + d + late, where day 0 is the
randomization date (the protocol's convention) or, in a trial without randomization, the enrolment date. A
form nobody saved is *overdue* once its window has closed (clinicedc's required/not-required metadata and
REDCap's missing-form reports are the anchors); a form saved as incomplete stays *incomplete* (flagged late
after its window); a form marked not done (with a reason) counts as resolved. Once a patient is off study
(withdrew consent, lost to follow-up, investigator's decision), a form not saved whose window opens after the
off-study date is *off-study*: no longer expected, never overdue (CONSORT 2010 item 13b counts such patients
in the flow diagram instead). A repeating (log) form counts its records at the visit: it is incomplete while one
of them is, complete when one is complete and the rest are complete or not done.

A form asked on a condition (``asked_if`` on the form: the serious adverse event log after "any serious adverse
event since the last visit? yes") is *not-needed* at a visit whose question was answered otherwise, and
*conditional* while the question is unanswered (the question's own form is the one due or overdue then). A
patient who died is off study from the date of death, but the forms that record an outcome at the outcome's visit
(the day-28 outcome form, the day-28 clinical status) are still expected: the death is their value.

Pure: it takes dates and statuses and returns values, so the rules are tested without a database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from equipoise.protocol import Form, Protocol

DONE_STATES = frozenset({"complete", "not-done", "not-needed"})
DIED = "died"  # the off-study kind after which outcome forms are still expected


def outcome_visit(protocol: Protocol, form: Form, day: int) -> str:
    """The visit of ``form`` on the outcome's day, else the latest one before it, else its last visit."""
    days = {v.id: v.day for v in protocol.visits}
    visits = sorted(form.visits, key=lambda v: days.get(v, 0))
    exact = [v for v in visits if days.get(v) == day]
    if exact:
        return exact[0]
    before = [v for v in visits if days.get(v, 0) <= day]
    return before[-1] if before else visits[-1]


def outcome_records(protocol: Protocol) -> set[tuple[str, str]]:
    """(form, visit) of every record an outcome is read from: still expected after a patient's death."""
    found = set()
    for outcome in protocol.outcomes:
        form = protocol.form(outcome.source.split(".", 1)[0]) if outcome.source else None
        if form is not None:
            found.add((form.id, outcome_visit(protocol, form, outcome.day)))
    return found


@dataclass(frozen=True)
class FormDue:
    visit_id: str
    visit_name: str
    day: int
    form_id: str
    form_name: str
    target: dt.date | None
    opens: dt.date | None
    closes: dt.date | None
    state: str  # complete | not-done | not-needed | incomplete | overdue | due | upcoming | conditional |
    #            awaiting-randomization | off-study
    late: bool  # past the window and not complete
    repeating: bool = False
    records: int = 0  # records saved (for a repeating form, the next one is number records + 1)

    def to_dict(self) -> dict[str, object]:
        return {"visit_id": self.visit_id, "visit_name": self.visit_name, "day": self.day, "form_id": self.form_id,
                "form_name": self.form_name, "target": _iso(self.target), "opens": _iso(self.opens),
                "closes": _iso(self.closes), "state": self.state, "late": self.late, "repeating": self.repeating,
                "records": self.records}


def saved_states(rows: Iterable[tuple[str, str, str]]) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], int]]:
    """From (form id, visit id, status) of each saved record: each (form, visit)'s status and its record count."""
    statuses: dict[tuple[str, str], list[str]] = {}
    for form_id, visit_id, status in rows:
        statuses.setdefault((form_id, visit_id), []).append(status)
    return ({key: _combined(found) for key, found in statuses.items()},
            {key: len(found) for key, found in statuses.items()})


def _combined(statuses: list[str]) -> str:
    if "incomplete" in statuses:
        return "incomplete"
    return "complete" if "complete" in statuses else statuses[0]


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def schedule(protocol: Protocol, *, anchor: dt.date | None, provisional_anchor: dt.date, today: dt.date,
             saved: Mapping[tuple[str, str], str], off_study: dt.date | None = None,
             records: Mapping[tuple[str, str], int] | None = None, off_study_kind: str | None = None,
             answers: Mapping[tuple[str, str], Mapping[str, object]] | None = None) -> list[FormDue]:
    """Every (visit, form) the protocol expects, in visit order, with its state on ``today``.

    ``anchor`` is day 0 (None while a patient of a randomized trial awaits randomization: then only the
    day-0 visits are scheduled, from ``provisional_anchor``, the enrolment date); ``saved`` maps
    (form id, visit id) to the saved record's status (complete, incomplete or not-done; ``saved_states`` combines
    the records of a repeating form); ``off_study`` is the date the patient left the study, if they did;
    ``records`` counts the records of each (form id, visit id) (one per saved status, if not given);
    ``off_study_kind``: why (``died`` keeps the outcome records expected); ``answers``: the values of the records
    of the forms that other forms' conditions read, by (form id, visit id).
    """
    conditions = {form.id: form.asked_if for form in protocol.forms if form.asked_if is not None}
    still_expected = outcome_records(protocol) if off_study_kind == DIED else set()
    forms_at: dict[str, list[tuple[str, str]]] = {}
    repeating = {form.id for form in protocol.forms if form.repeating}
    for form in protocol.forms:
        for visit_id in form.visits:
            forms_at.setdefault(visit_id, []).append((form.id, form.name))
    out: list[FormDue] = []
    for visit in sorted(protocol.visits, key=lambda v: v.day):
        day0 = anchor if anchor is not None else (provisional_anchor if visit.day <= 0 else None)
        for form_id, form_name in forms_at.get(visit.id, []):
            status = saved.get((form_id, visit.id))
            count = (records or {}).get((form_id, visit.id), int(status is not None))
            if day0 is None:
                state = status or ("off-study" if off_study is not None else "awaiting-randomization")
                out.append(FormDue(visit.id, visit.name or visit.id, visit.day, form_id, form_name, None, None, None,
                                   state, False, form_id in repeating, count))
                continue
            target = day0 + dt.timedelta(days=visit.day)
            opens = target + dt.timedelta(days=visit.window[0])
            closes = target + dt.timedelta(days=visit.window[1])
            condition = conditions.get(form_id)
            answer = (answers or {}).get((condition.form, visit.id)) if condition is not None else None
            if status is not None:
                state = status
            elif off_study is not None and opens > off_study and (form_id, visit.id) not in still_expected:
                state = "off-study"
            elif condition is not None and answer is None:
                state = "conditional"
            elif condition is not None and answer is not None and not condition.holds(answer):
                state = "not-needed"
            elif today > closes:
                state = "overdue"
            elif today >= opens:
                state = "due"
            else:
                state = "upcoming"
            late = today > closes and state not in DONE_STATES and state not in ("off-study", "conditional")
            out.append(FormDue(visit.id, visit.name or visit.id, visit.day, form_id, form_name, target, opens, closes,
                               state, late, form_id in repeating, count))
    return out


def window_warning(protocol: Protocol, visit_id: str, anchor: dt.date | None, today: dt.date) -> str | None:
    """A warning when data are entered for a visit whose window has not opened yet (a wrong visit, often)."""
    visit = next((v for v in protocol.visits if v.id == visit_id), None)
    if visit is None or anchor is None:
        return None
    opens = anchor + dt.timedelta(days=visit.day + visit.window[0])
    if today < opens:
        return (f"visit {visit.id} (day {visit.day}) opens on {opens.isoformat()}: check that this is the right "
                "visit")
    return None
