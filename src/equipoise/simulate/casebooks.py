"""Virtual patients as a trial server sees them: who is screened where and when, with which enrolment values,
and what each case report form holds at each visit.

The clinical course comes from the natural history (``natural_history/model.py``): a patient's baseline WHO
level and age group follow their baseline severity's population in ``covid19.yaml``, and their daily WHO levels
are simulated over 28 days. Everything the forms say is read off that one path, so the forms agree with each
other and with the outcomes the analysis derives from them:

- clinical status at a visit: the WHO level on the visit's day (10 once dead; levels 1-3 after discharge),
  with an SpO2 and a respiratory rate typical of that level (empty when dead, often empty at home);
- day-28 outcome: died (level 10 on day 28), the date of death (first day at 10) and of discharge (first day
  at level <= 3), both within the 28 days;
- chest CT at day 14: ``Paths.ct_improved_at`` (not done when the patient has died);
- study infusion on days 0 and 3 with the kit code the server allocated (not done after death);
- serious adverse events: a few per hundred patients (infusion reaction, acute kidney injury, venous
  thromboembolism, secondary bacterial pneumonia; the last two more often in patients who needed ventilation),
  each in the slot of the first adverse-event visit on or after its onset, its resolution date added later
  with a reason.

The treatment effect is the natural history's proportional-odds shift of every daily transition
(``odds_ratio`` > 1 favours the experimental arm; 1 means none). Both potential courses of a patient are drawn
with the same random numbers (common random numbers), so the arm the server allocates picks one of them and
nothing else changes. Everything is reproducible from ``seed`` and ``as_of``.

The value generators know the enrolment fields and forms of ``examples/covid19-msc-rct.yaml`` (by field id);
a protocol without them is refused with the list of what is missing, and forms they do not know are skipped.

References
----------
WHO Working Group on the Clinical Characterisation and Management of COVID-19 infection (2020). A minimal common
outcome measure set for COVID-19 clinical research. Lancet Infect Dis 20:e192-e197 (the WHO scale).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from equipoise.errors import UserError
from equipoise.protocol import Protocol, evaluate_eligibility
from equipoise.simulate.natural_history.model import DEAD, DISCHARGED, NaturalHistory
from equipoise.simulate.natural_history.outcomes import Paths

ENROLMENT_FIELDS = ("age", "sex", "severity", "sars_cov_2_pcr", "symptom_onset", "who_baseline", "pregnant",
                    "malignancy", "consent")
FORMS = ("clinical_status", "imaging", "infusion", "outcome", "adverse_event")
GATED = "adverse_event"  # the form a protocol may ask only after "any serious adverse event? yes"
SEVERITY_MIX = {"mild": 0.35, "severe": 0.45, "critical": 0.20}  # hospitalised adults at enrolment (assumed)
AGE_RANGES = {"under-50": (18, 49), "50-69": (50, 69), "70-plus": (70, 92)}
# Why screened patients are not eligible, and how often (assumed, in the range of the 2020 trials' screening logs).
INELIGIBLE = {"onset": 0.30, "not-hospitalised": 0.20, "consent": 0.15, "pcr": 0.12, "malignancy": 0.10,
              "pregnant": 0.08, "minor": 0.05}
SPO2 = {3: (95, 99), 4: (93, 97), 5: (89, 95), 6: (88, 94), 7: (90, 96), 8: (88, 95), 9: (85, 93)}
RESP_RATE = {3: (14, 19), 4: (16, 22), 5: (20, 28), 6: (22, 32), 7: (16, 26), 8: (16, 28), 9: (18, 30)}


@dataclass(frozen=True)
class Candidate:
    """One patient screened at a site: enrolment values and both potential clinical courses."""

    number: int  # order of screening, from 1
    site_id: str
    timezone: str
    screened_at: dt.datetime  # UTC
    values: dict[str, Any]  # enrolment values as a client sends them (dates as YYYY-MM-DD)
    eligible: bool  # by the protocol's criteria on the site's date (the server checks again)
    severity: str
    courses: dict[bool, tuple[int, ...]] = field(default_factory=dict)  # experimental? -> WHO level, days 0..28

    @property
    def local_date(self) -> dt.date:
        return self.screened_at.astimezone(ZoneInfo(self.timezone)).date()


@dataclass(frozen=True)
class FormEntry:
    """A form as a site enters it: values (or not done, with the reason), when, and why if it is a change."""

    form_id: str
    visit_id: str
    entered_at: dt.datetime  # UTC
    values: dict[str, Any] | None
    not_done: str | None = None
    reason: str | None = None  # a change of a form saved before


def check_protocol(protocol: Protocol) -> None:
    """Refuse a protocol whose enrolment fields the generators do not know."""
    have = {f.id for f in protocol.enrolment.fields}
    missing = [f for f in ("age", "sex", "severity", "who_baseline") if f not in have]
    if missing:
        raise UserError(f"the virtual population fills the enrolment fields of examples/covid19-msc-rct.yaml; "
                        f"trial {protocol.trial.id} lacks {', '.join(missing)}")


def _local(day: dt.date, hour: float, tz: str) -> dt.datetime:
    """A local wall-clock time at a site, in UTC."""
    base = dt.datetime.combine(day, dt.time(0, 0), ZoneInfo(tz))
    return (base + dt.timedelta(hours=hour)).astimezone(dt.UTC)


def screen(protocol: Protocol, natural_history: NaturalHistory, *, patients: int, seed: int, as_of: dt.datetime,
           odds_ratio: float = 1.0, accrual_days: int = 150, ineligible_share: float = 0.15) -> list[Candidate]:
    """``patients`` eligible candidates and about ``ineligible_share`` as many ineligible ones, screened over the
    ``accrual_days`` before ``as_of`` at the protocol's sites (opening one after another), in time order."""
    check_protocol(protocol)
    if patients < 0:
        raise UserError("the number of patients cannot be negative")
    if odds_ratio <= 0 or not math.isfinite(odds_ratio):
        raise UserError(f"the treatment effect is an odds ratio > 0, not {odds_ratio:g}")
    rng = np.random.default_rng([seed, 1])
    sites = protocol.sites
    if not sites:
        raise UserError(f"trial {protocol.trial.id} has no sites")
    n_ineligible = round(patients * ineligible_share)
    total = patients + n_ineligible
    kinds = [k for k in INELIGIBLE if _applies(k, protocol)]
    weights = np.array([1 / (1 + 0.3 * i) for i in range(len(sites))])
    opens = [0.4 * i / max(len(sites) - 1, 1) for i in range(len(sites))]  # fraction of the accrual period
    end = as_of - dt.timedelta(hours=2)
    # nobody is enrolled before the protocol takes effect (a day's margin for the sites' time zones)
    opened = dt.datetime.combine(protocol.trial.effective_date + dt.timedelta(days=1), dt.time(0), dt.UTC)
    if end - opened < dt.timedelta(days=7):
        raise UserError(f"the demo's date ({as_of.date().isoformat()}) must be at least a week after the protocol "
                        f"took effect ({protocol.trial.effective_date.isoformat()})")
    start = max(end - dt.timedelta(days=accrual_days), opened)
    accrual_days = max((end - start).days, 1)
    ineligible = set(rng.choice(total, size=n_ineligible, replace=False).tolist()) if n_ineligible else set()
    drafts: list[tuple[dt.datetime, int, dict[str, Any], str, str]] = []
    for i in range(total):
        s = int(rng.choice(len(sites), p=weights / weights.sum()))
        site = sites[s]
        frac = opens[s] + (1 - opens[s]) * rng.random()
        local_day = (start + dt.timedelta(days=frac * accrual_days)).astimezone(ZoneInfo(site.timezone)).date()
        when = _local(local_day, 8 + 12 * rng.random(), site.timezone)
        if when > end:
            when = end - dt.timedelta(minutes=int(rng.integers(5, 600)))
        severity = str(rng.choice(list(SEVERITY_MIX), p=list(SEVERITY_MIX.values())))
        pop = natural_history.population(severity)
        group = str(rng.choice(list(pop.age), p=list(pop.age.values())))
        low, high = AGE_RANGES.get(group, (18, 90))
        levels = list(pop.start)
        values: dict[str, Any] = {
            "age": int(rng.integers(low, high + 1)), "sex": "female" if rng.random() < 0.42 else "male",
            "severity": severity, "sars_cov_2_pcr": True,
            "who_baseline": int(rng.choice(levels, p=[pop.start[v] for v in levels])),
            "pregnant": False, "malignancy": False, "consent": True,
        }
        onset_days = int(rng.integers(2, 13))
        if i in ineligible and kinds:
            kind = kinds[int(rng.choice(len(kinds), p=_normalised([INELIGIBLE[k] for k in kinds])))]
            onset_days = _make_ineligible(kind, values, rng, onset_days)
        local = when.astimezone(ZoneInfo(site.timezone)).date()
        values["symptom_onset"] = (local - dt.timedelta(days=onset_days)).isoformat()
        values = _known(protocol, values)
        drafts.append((when, i, values, site.id, site.timezone))
    drafts.sort(key=lambda d: (d[0], d[1]))
    courses = _courses(natural_history, drafts, rng_seed=[seed, 2], odds_ratio=odds_ratio)
    out = []
    for number, (when, _i, values, site_id, tz) in enumerate(drafts, start=1):
        local = when.astimezone(ZoneInfo(tz)).date()
        typed = {k: dt.date.fromisoformat(v) if k == "symptom_onset" else v for k, v in values.items()}
        eligible = evaluate_eligibility(protocol.eligibility, typed, local).eligible
        out.append(Candidate(number, site_id, tz, when, values, eligible, str(values["severity"]),
                             courses[number - 1]))
    return out


def _known(protocol: Protocol, values: dict[str, Any]) -> dict[str, Any]:
    have = {f.id for f in protocol.enrolment.fields}
    return {k: v for k, v in values.items() if k in have}


def _normalised(weights: list[float]) -> list[float]:
    total = sum(weights)
    return [w / total for w in weights]


def _applies(kind: str, protocol: Protocol) -> bool:
    needs = {"onset": "symptom_onset", "not-hospitalised": "who_baseline", "consent": "consent",
             "pcr": "sars_cov_2_pcr", "malignancy": "malignancy", "pregnant": "pregnant", "minor": "age"}
    criteria = {c.field for c in protocol.eligibility}
    return needs[kind] in criteria


def _make_ineligible(kind: str, values: dict[str, Any], rng: np.random.Generator, onset_days: int) -> int:
    if kind == "onset":
        return int(rng.integers(15, 25))
    if kind == "not-hospitalised":
        values.update(severity="mild", who_baseline=int(rng.choice([2, 3])))
    elif kind == "consent":
        values["consent"] = False
    elif kind == "pcr":
        values["sars_cov_2_pcr"] = False
    elif kind == "malignancy":
        values["malignancy"] = True
    elif kind == "pregnant":
        values.update(sex="female", age=int(rng.integers(22, 41)), pregnant=True)
    elif kind == "minor":
        values["age"] = int(rng.integers(15, 18))
    return onset_days


def _courses(nh: NaturalHistory, drafts: list[tuple[dt.datetime, int, dict[str, Any], str, str]], *,
             rng_seed: list[int], odds_ratio: float) -> list[dict[bool, tuple[int, ...]]]:
    """Daily WHO levels under control and under the experimental arm, with common random numbers."""
    if not drafts:
        return []
    start = np.array([min(max(int(d[2].get("who_baseline", 4)), 4), 9) for d in drafts], dtype=np.int64)
    shift = np.empty(len(drafts))
    for k, (_w, _i, values, _s, _tz) in enumerate(drafts):
        pop = nh.population(str(values["severity"]))
        age = int(values["age"])
        group = "under-50" if age < 50 else "50-69" if age < 70 else "70-plus"
        shift[k] = nh.age_shift[group] + pop.setting_shift
    control = nh.simulate_paths(start, shift, np.random.default_rng(rng_seed), days=28)
    treated = control if odds_ratio == 1.0 else nh.simulate_paths(
        start, shift, np.random.default_rng(rng_seed), log_or=math.log(odds_ratio), days=28)
    return [{False: tuple(int(x) for x in control[k]), True: tuple(int(x) for x in treated[k])}
            for k in range(len(drafts))]


# ----------------------------------------------------------------------------------------------------------------
# The casebook of one randomized patient


@dataclass(frozen=True)
class _Course:
    levels: tuple[int, ...]
    ct_lag_days: int

    def who(self, day: int) -> int:
        return self.levels[min(max(day, 0), len(self.levels) - 1)]

    @property
    def death_day(self) -> int | None:
        return next((d for d, lv in enumerate(self.levels) if lv == DEAD), None)

    @property
    def discharge_day(self) -> int | None:
        return next((d for d, lv in enumerate(self.levels) if lv <= DISCHARGED), None)

    def dead_by(self, day: int) -> bool:
        d = self.death_day
        return d is not None and d <= day

    def ct_improved(self, day: int) -> bool:
        paths = Paths(np.array([self.levels], dtype=np.int8), self.ct_lag_days)
        return bool(paths.ct_improved_at(min(day, paths.horizon))[0])


def casebook(protocol: Protocol, candidate: Candidate, *, experimental: bool, randomised_at: dt.datetime,
             kit_code: str | None, as_of: dt.datetime, seed: int, ct_lag_days: int = 7,
             severe_infusion_reaction: bool = False) -> list[FormEntry]:
    """Every form a site enters for this patient up to ``as_of``, in the order it is entered.

    Most forms are entered on the visit's day, some one to five days later; about 3% of follow-up forms are
    never entered (they show as overdue) and about 2% of patients are lost to follow-up before day 28 (their
    day-28 forms are marked not done). ``severe_infusion_reaction`` gives the patient a grade-4 reaction to
    the first infusion (the demo's emergency unblinding)."""
    rng = np.random.default_rng([seed, 3, candidate.number])
    course = _Course(candidate.courses[experimental], ct_lag_days)
    tz = candidate.timezone
    day0 = randomised_at.astimezone(ZoneInfo(tz)).date()
    visits = {v.id: v for v in protocol.visits}
    lost = rng.random() < 0.02 and not course.dead_by(28)
    entries: list[FormEntry] = []

    def visit_date(visit_id: str) -> dt.date:
        v = visits[visit_id]
        if v.day == 0:
            return day0
        low, high = v.window
        jitter = 0 if rng.random() < 0.7 else int(rng.integers(low, high + 1))
        return day0 + dt.timedelta(days=v.day + jitter)

    def entry_time(on: dt.date, baseline: bool = False) -> dt.datetime:
        if baseline:
            return randomised_at + dt.timedelta(minutes=int(rng.integers(20, 240)))
        lag = 0 if rng.random() < 0.55 else 1 if rng.random() < 0.55 else int(rng.integers(2, 6))
        return _local(on + dt.timedelta(days=lag), 8 + 10 * rng.random(), tz)

    dates: dict[str, dt.date] = {}
    for v in sorted(protocol.visits, key=lambda v: v.day):
        dates[v.id] = visit_date(v.id)
    for form in protocol.forms:
        if form.id not in FORMS or form.id == "adverse_event":
            continue
        for visit_id in form.visits:
            v = visits[visit_id]
            on = dates[visit_id]
            if v.day > 0 and rng.random() < 0.03 and form.id != "outcome":
                continue  # never entered: overdue
            at = entry_time(on, baseline=v.day == 0)
            if lost and v.day >= 28:
                entries.append(FormEntry(form.id, visit_id, at, None, "lost to follow-up: no contact after "
                                         "three attempts"))
                continue
            if form.id == "outcome":
                on = max(on, day0 + dt.timedelta(days=v.day))  # the day-28 outcome is known on day 28
                at = max(at, entry_time(on))
            values, not_done = _form_values(form.id, v.day, on, day0, course, kit_code, rng)
            entries.append(FormEntry(form.id, visit_id, at, values, not_done))
    events, used = _adverse_events(protocol, course, day0, tz, rng, severe_infusion_reaction)
    entries += events
    # With the clinical status of each visit the site answers "any serious adverse event since the last visit?"
    # where the protocol asks it (the event log is then expected only after a yes), else marks the log not done.
    seen = {e.visit_id: e for e in entries if e.form_id == "clinical_status"}
    ae_form = protocol.form(GATED)
    gate = ae_form.asked_if if ae_form is not None else None
    for visit_id in ae_form.visits if ae_form is not None else []:
        status = seen.get(visit_id)
        reported = [e.entered_at for e in events if e.visit_id == visit_id]
        if gate is not None:
            # a yes just before the first event is entered; a no with the visit's clinical status, unless the
            # patient died before the visit (off study: nothing is asked)
            if reported:
                entries.append(FormEntry(gate.form, visit_id, min(reported) - dt.timedelta(minutes=3),
                                         {gate.field: True}))
            elif status is not None and not course.dead_by(visits[visit_id].day - 1):
                entries.append(FormEntry(gate.form, visit_id, status.entered_at + dt.timedelta(minutes=3),
                                         {gate.field: False}))
            continue
        if status is None or visit_id in used:
            continue
        at = status.entered_at + dt.timedelta(minutes=3)
        why = status.not_done or ("patient died before this visit" if course.dead_by(visits[visit_id].day) else
                                  "no serious adverse event since the previous visit")
        entries.append(FormEntry(GATED, visit_id, at, None, why))
    known = {f.id: {x.id for x in f.fields} for f in protocol.forms}
    earliest = randomised_at + dt.timedelta(minutes=15)  # nothing is entered before the patient is randomized
    kept = []
    for e in entries:
        at = max(e.entered_at, earliest)
        if at > as_of:
            continue
        values = None if e.values is None else {k: v for k, v in e.values.items() if k in known.get(e.form_id, set())}
        kept.append(FormEntry(e.form_id, e.visit_id, at, values, e.not_done, e.reason))
    kept.sort(key=lambda e: e.entered_at)
    return kept


def death_date(candidate: Candidate, *, experimental: bool, randomised_at: dt.datetime, ct_lag_days: int = 7
               ) -> dt.date | None:
    """The site's date of the patient's death by day 28, if they die (the course ``casebook`` enters)."""
    day = _Course(candidate.courses[experimental], ct_lag_days).death_day
    if day is None:
        return None
    return randomised_at.astimezone(ZoneInfo(candidate.timezone)).date() + dt.timedelta(days=day)


def _form_values(form_id: str, day: int, on: dt.date, day0: dt.date, course: _Course, kit_code: str | None,
                 rng: np.random.Generator) -> tuple[dict[str, Any] | None, str | None]:
    """The values of one form at one visit, or why it is not done."""
    actual = (on - day0).days
    if form_id == "clinical_status":
        # the level on the day of the assessment (within the visit's window); dead by the visit's day means 10
        level = DEAD if course.dead_by(day) else course.who(actual)
        values: dict[str, Any] = {"assessment_date": on.isoformat(), "who_score": level}
        if level != DEAD and (level > DISCHARGED or rng.random() < 0.4):
            low, high = SPO2[max(level, DISCHARGED)]
            values["spo2"] = float(rng.integers(low, high + 1))
            low, high = RESP_RATE[max(level, DISCHARGED)]
            values["resp_rate"] = int(rng.integers(low, high + 1))
        return values, None
    if form_id == "imaging":
        if course.dead_by(day):
            return None, "patient died before the scan"
        if day == 0:
            return {"ct_date": on.isoformat()}, None
        if course.who(day) <= DISCHARGED and rng.random() < 0.15:
            return None, "discharged home; follow-up CT not performed"
        return {"ct_date": on.isoformat(), "ct_improved": course.ct_improved(actual)}, None
    if form_id == "infusion":
        if course.dead_by(day):
            return None, "patient died before the infusion"
        return {"infusion_date": on.isoformat(), "kit_code": kit_code or "open-label",
                "completed": bool(rng.random() > 0.04)}, None
    if form_id == "outcome":
        death, discharge = course.death_day, course.discharge_day
        values = {"died": course.dead_by(28)}
        if death is not None:
            values["death_date"] = (day0 + dt.timedelta(days=death)).isoformat()
        if discharge is not None:
            values["discharge_date"] = (day0 + dt.timedelta(days=discharge)).isoformat()
        return values, None
    return None, None


SAE_TERMS = {
    "infusion": ("Infusion reaction: fever, rigors and hypotension during the infusion", "probable"),
    "aki": ("Acute kidney injury", "unlikely"),
    "vte": ("Pulmonary embolism", "unlikely"),
    "pneumonia": ("Secondary bacterial pneumonia", "unrelated"),
}


def _adverse_events(protocol: Protocol, course: _Course, day0: dt.date, tz: str, rng: np.random.Generator,
                    severe_infusion_reaction: bool) -> tuple[list[FormEntry], set[str]]:
    form = protocol.form("adverse_event")
    if form is None:
        return [], set()
    visits = {v.id: v for v in protocol.visits}
    slots = sorted(form.visits, key=lambda v: visits[v].day)
    ventilated = max(course.levels) >= 7
    events: list[tuple[int, str, int]] = []  # onset day, kind, grade
    if severe_infusion_reaction:
        events.append((0, "infusion", 4))
    elif rng.random() < 0.02:
        events.append((int(rng.choice([0, 3])), "infusion", 3))
    if rng.random() < (0.05 if ventilated else 0.01):
        events.append((int(rng.integers(2, 21)), "aki", int(rng.choice([3, 4]))))
    if rng.random() < 0.03:
        events.append((int(rng.integers(5, 21)), "vte", 3))
    if rng.random() < (0.08 if ventilated else 0.01):
        events.append((int(rng.integers(5, 21)), "pneumonia", int(rng.choice([3, 4]))))
    used: set[str] = set()
    out: list[FormEntry] = []
    death = course.death_day
    for onset_day, kind, grade in sorted(events):
        if death is not None and onset_day >= death:
            continue
        slot = next((s for s in slots if visits[s].day >= onset_day and s not in used), None)
        if slot is None:
            continue
        used.add(slot)
        term, related = SAE_TERMS[kind]
        if kind == "infusion" and grade == 4:
            term = "Anaphylactoid reaction to the first infusion: bronchospasm and shock"
        onset = day0 + dt.timedelta(days=onset_day)
        values: dict[str, Any] = {"onset_date": onset.isoformat(), "description": term, "severity_grade": grade,
                                  "related": related if kind != "infusion" else str(rng.choice(["possible",
                                                                                                 "probable"]))}
        reported = _local(onset + dt.timedelta(days=int(rng.integers(0, 2))), 9 + 8 * rng.random(), tz)
        out.append(FormEntry("adverse_event", slot, reported, dict(values)))
        resolves = onset_day + int(rng.integers(3, 13))
        if (death is None or resolves < death) and resolves <= 40:
            resolved = day0 + dt.timedelta(days=resolves)
            values["resolved_date"] = resolved.isoformat()
            out.append(FormEntry("adverse_event", slot, _local(resolved + dt.timedelta(days=1), 10, tz), values,
                                 reason="follow-up: the event has resolved"))
    return out, used
