"""Fill a demo trial with virtual patients through the trial server's own services, as its users would.

Virtual patients (``equipoise.simulate.casebooks``: enrolment values and form values from the natural history)
are screened at the sites over the months before ``as_of``; each screening is an enrolment request by that
site's coordinator, which the server accepts or refuses on the protocol's criteria; accepted patients are
randomized by the real engine (minimization, the operating system's random numbers), and the forms of the
visits that have come due are entered on the days they are due (or a little later; a few are missing). The
monitor raises queries (answered with corrections, closed; one left open), locks a form; the investigator
signs a casebook and unblinds one patient after a severe infusion reaction. The services run on a simulated
clock, so dates, windows and "not in the future" checks behave as on those days; the audit trail records
the real time at which the demo wrote each change, and the demo users as the actors (they log in first). At the
end the summary says how many forms are overdue on the demo's today and whether the first interim look is due
(enough day-28 outcomes for the protocol's first information rate: about 300 patients for the MSC trial).

The calls are made in bulk (``bulk=True``): one held transaction committed every ``CHECKPOINT_EVERY`` calls
(``store/held_transaction.py``), saved forms not read back; what is stored is the same as call by call.

Running it again on a trial that already has patients does nothing (the demo is idempotent).
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from equipoise.errors import UserError
from equipoise.identity.auth import AuthService
from equipoise.identity.principal import Principal, system_principal
from equipoise.services.forms import FormService
from equipoise.services.locks import LockService
from equipoise.services.off_study import OffStudyService
from equipoise.services.patients import IneligibleError, PatientService
from equipoise.services.queries import QueryService
from equipoise.services.randomization import RandomizationService
from equipoise.services.schedule import DIED, outcome_records
from equipoise.services.signatures import SignatureService
from equipoise.services.site_clock import local_date
from equipoise.services.trials import get_trial, protocol_of
from equipoise.services.unblinding import UnblindingService
from equipoise.simulate.casebooks import Candidate, FormEntry, casebook, death_date, screen
from equipoise.simulate.natural_history import load_natural_history
from equipoise.store.db import Database
from equipoise.store.models import Allocation

# Service calls per commit when the population is built in bulk (about 40 patients' worth).
CHECKPOINT_EVERY = 500
# Queries a monitor raises after source data verification: (field, question, corrected value or None, answer).
QUERIES = [
    ("spo2", "SpO2 does not match the nursing chart for that morning: please check against the source.",
     lambda v: None if v is None else min(float(v) + 2.0, 100.0), "Transcription error: corrected from the chart."),
    ("resp_rate", "Respiratory rate is unusual for this WHO level: please confirm.",
     None, "Confirmed against the source document; the value is correct."),
    ("assessment_date", "Assessment date differs from the visit log: please confirm.",
     None, "The assessment was done on this date (visit log updated)."),
]


@dataclass
class PopulationSummary:
    trial_id: str
    screened: int = 0
    refused: int = 0
    randomized: int = 0
    forms: int = 0
    not_done: int = 0
    changes: int = 0
    queries: int = 0
    locked_forms: int = 0
    signatures: int = 0
    unblindings: int = 0
    off_study: int = 0
    deaths: int = 0
    serious_adverse_events: int = 0
    overdue_forms: int = 0  # on the demo's today (forms tracking)
    day28_outcomes: int = 0  # patients whose day-28 outcome is entered
    first_look_at: int | None = None  # day-28 outcomes that make the first interim look due (None: no looks)
    seconds: float = 0.0
    skipped: str | None = None
    by_site: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __str__(self) -> str:
        if self.skipped:
            return f"demo population: {self.skipped}"
        sites = ", ".join(f"{s} {n}" for s, n in sorted(self.by_site.items()))
        return (f"demo population: {self.randomized} patients randomized ({sites}); {self.refused} of "
                f"{self.screened} screened refused as ineligible; {self.forms} forms entered ({self.not_done} not "
                f"done, {self.changes} changed with a reason); {self.off_study} lost to follow-up; {self.deaths} died "
                f"(off study from the date of death); "
                f"{self.serious_adverse_events} serious adverse "
                f"events; {self.queries} monitor queries, {self.locked_forms} locked form, {self.signatures} "
                f"investigator signature, {self.unblindings} emergency unblinding; {self.overdue_forms} forms "
                f"overdue today; {self.interim_text()}; {self.seconds:.1f} s")

    def interim_text(self) -> str:
        if self.first_look_at is None:
            return f"{self.day28_outcomes} day-28 outcomes (the protocol plans no interim look)"
        due = "DUE" if self.day28_outcomes >= self.first_look_at else "not due yet"
        return (f"{self.day28_outcomes} day-28 outcomes: the first interim look (at {self.first_look_at}) is {due}")


def _morning_after(day: dt.date, timezone: str) -> dt.datetime:
    """09:00 at the site the day after ``day``, in UTC."""
    local = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(9, 0), ZoneInfo(timezone))
    return local.astimezone(dt.UTC)


class SimulatedClock:
    """The time the services see: set before each action to the moment it happens in the simulated trial."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass(frozen=True)
class DemoStaff:
    """Who does what: a coordinator per site, the investigator who signs and unblinds, the monitor."""

    coordinators: dict[str, str]  # site id -> username
    investigator: str
    monitor: str
    password: str


def populate(db: Database, trial_id: str, staff: DemoStaff, *, patients: int, seed: int, as_of: dt.datetime,
             odds_ratio: float = 1.0, progress: Callable[[str], None] | None = None, bulk: bool = True
             ) -> PopulationSummary:
    """Screen, enrol, randomize and follow ``patients`` virtual patients in ``trial_id`` (see module docstring).

    ``bulk``: run the service calls in one held transaction with a commit every ``CHECKPOINT_EVERY`` calls, and
    do not read saved forms back (what is stored is the same; ``False`` commits every call and reads every form
    back, as the server does for a client: the anchor of ``benchmarks/demo_build.py``)."""
    started = time.perf_counter()
    summary = PopulationSummary(trial_id)
    operator = system_principal("demo")
    with db.read() as s:
        trial = get_trial(s, trial_id)
        protocol = protocol_of(trial)
    clock = SimulatedClock(as_of)
    patient_service = PatientService(db, clock)
    existing = patient_service.list_patients(operator, trial_id, limit=1)
    if existing:
        summary.skipped = (f"trial {trial_id} already has patients; nothing added (delete the demo database to "
                           "start over)")
        return summary
    if patients == 0:
        summary.skipped = "no patients asked for"
        return summary
    missing = [s.id for s in protocol.sites if s.id not in staff.coordinators]
    if missing:
        raise UserError(f"the demo population needs a site coordinator at every site; none at {', '.join(missing)}")
    candidates = screen(protocol, load_natural_history("covid19"), patients=patients, seed=seed, as_of=as_of,
                        odds_ratio=odds_ratio)
    auth = AuthService(db)
    principals = {u: _login(auth, u, staff.password) for u in
                  sorted({*staff.coordinators.values(), staff.investigator, staff.monitor})}
    run = _Run(db, trial_id, protocol, staff, principals, clock, seed, as_of, summary, progress or (lambda _m: None),
               patients, auth)
    run.read_back = not bulk
    # the patient whose severe infusion reaction leads to the emergency unblinding: an early one at the
    # investigator's site
    investigator_site = next((g.site_id for g in principals[staff.investigator].grants if g.site_id), None)
    eligible_there = [c for c in candidates if c.eligible and c.site_id == investigator_site]
    run.unblind_number = eligible_there[min(4, len(eligible_there) - 1)].number if eligible_there else None
    for c in candidates:
        run.push(c.screened_at, "screen", c)
    if bulk:
        # the same service calls in one transaction, committed every CHECKPOINT_EVERY calls (held_transaction.py)
        with db.held_transaction() as held:
            run.loop(held.checkpoint)
    else:
        run.loop()
    looks = protocol.analysis.looks if protocol.analysis is not None else None
    target = protocol.enrolment.target.total if protocol.enrolment.target is not None else None
    if looks is not None and target and len(looks.information_rates) > 1:
        summary.first_look_at = math.ceil(looks.information_rates[0] * target)
    clock.now = as_of
    summary.overdue_forms = int(run.forms.tracking(operator, trial_id, limit=0)["overdue_total"])
    summary.seconds = time.perf_counter() - started
    return summary


def _login(auth: AuthService, username: str, password: str) -> Principal:
    try:
        token = auth.login(username, password, source="demo").token
    except UserError as exc:
        raise UserError(f"the demo population cannot log in as {username!r}: {exc}") from None
    return auth.authenticate(token, source="demo")


class _Run:
    def __init__(self, db: Database, trial_id: str, protocol: Any, staff: DemoStaff,
                 principals: dict[str, Principal], clock: SimulatedClock, seed: int, as_of: dt.datetime,
                 summary: PopulationSummary, progress: Callable[[str], None], target: int, auth: AuthService) -> None:
        self.db = db
        self.trial_id = trial_id
        self.protocol = protocol
        self.staff = staff
        self.principals = principals
        self.clock = clock
        self.seed = seed
        self.as_of = as_of
        self.summary = summary
        self.progress = progress
        self.target = target
        self.patients = PatientService(db, clock)
        self.randomization = RandomizationService(db, clock)
        self.forms = FormService(db, clock)
        self.queries = QueryService(db, clock)
        self.locks = LockService(db, clock)
        self.signatures = SignatureService(db, auth, clock)
        self.unblinding = UnblindingService(db, auth, clock)
        self.off_study = OffStudyService(db, clock)
        self.gone: set[int] = set()
        self.heap: list[tuple[dt.datetime, int, str, Any]] = []
        self.counter = itertools.count()
        self.unblind_number: int | None = None
        self.patient_of: dict[int, int] = {}  # candidate number -> patient id
        self.query_plan = 0
        self.signed = False
        self.last_report = time.perf_counter()
        self.read_back = True  # read each saved form back (as a client is answered); bulk building skips it

    def push(self, at: dt.datetime, kind: str, payload: Any) -> None:
        if at <= self.as_of:
            heapq.heappush(self.heap, (at, next(self.counter), kind, payload))

    def loop(self, checkpoint: Callable[[], None] | None = None) -> None:
        done = 0
        while self.heap:
            at, _n, kind, payload = heapq.heappop(self.heap)
            self.clock.now = at
            getattr(self, f"_{kind}")(payload)
            done += 1
            if checkpoint is not None and done % CHECKPOINT_EVERY == 0:
                checkpoint()

    def coordinator(self, site_id: str) -> Principal:
        return self.principals[self.staff.coordinators[site_id]]

    # --- screening and randomization -----------------------------------------------------------------------------

    def _screen(self, c: Candidate) -> None:
        self.summary.screened += 1
        try:
            patient = self.patients.enrol(self.coordinator(c.site_id), self.trial_id, c.site_id, c.values,
                                          idempotency_key=f"demo-{self.seed}-{c.number}")
        except IneligibleError:
            self.summary.refused += 1
            return
        self.patient_of[c.number] = patient.id
        minutes = 5 + (c.number * 7) % 40
        self.push(c.screened_at + dt.timedelta(minutes=minutes), "randomize", c)

    def _randomize(self, c: Candidate) -> None:
        pid = self.patient_of[c.number]
        who = self.coordinator(c.site_id)
        view = self.randomization.randomize(who, self.trial_id, pid, f"demo-{self.seed}-{c.number}")
        # nature knows the arm (the patient's course depends on it); the blinded site is never shown it
        with self.db.read() as s:
            arm = s.scalar(select(Allocation.arm).where(Allocation.patient_id == pid))
        control = self.protocol.control_arm.id if self.protocol.control_arm else None
        experimental = arm is not None and arm != control
        self.summary.randomized += 1
        self.summary.by_site[c.site_id] = self.summary.by_site.get(c.site_id, 0) + 1
        at = self.clock.now
        entries = casebook(self.protocol, c, experimental=experimental, randomised_at=at, kit_code=view.kit_code,
                           as_of=self.as_of, seed=self.seed, severe_infusion_reaction=c.number == self.unblind_number)
        died = death_date(c, experimental=experimental, randomised_at=at)
        if died is not None:
            # The ward reports the death the next morning; the site takes the patient off study from that date, so
            # only the forms that record an outcome (died, WHO level 10 at day 28) are still expected.
            self.push(_morning_after(died, c.timezone), "died", (c, pid, died))
            expected = outcome_records(self.protocol)
            entries = [e for e in entries if not (e.values is None and (e.not_done or "").startswith("patient died")
                                                  and (e.form_id, e.visit_id) not in expected)]
        for e in entries:
            self.push(e.entered_at, "form", (c, pid, e))
        if c.number == self.unblind_number:
            self.push(at + dt.timedelta(hours=3), "unblind", (c, pid))
        self._plan_conduct(c, pid, entries)
        if self.summary.randomized % 20 == 0 or self.summary.randomized == self.target:
            self.progress(f"  {self.summary.randomized}/{self.target} patients randomized "
                          f"(simulated date {at.date().isoformat()})")

    def _died(self, item: tuple[Candidate, int, dt.date]) -> None:
        c, pid, died = item
        self.off_study.record(self.coordinator(c.site_id), self.trial_id, pid, DIED, died,
                              f"died on {died.isoformat()} (reported by the ward)")
        self.summary.deaths += 1

    def _form(self, item: tuple[Candidate, int, FormEntry]) -> None:
        c, pid, e = item
        who = self.coordinator(c.site_id)
        if e.values is None:
            if e.not_done and e.not_done.startswith("lost to follow-up") and pid not in self.gone:
                # the site records the loss once, then the visits it can no longer expect
                self.gone.add(pid)
                self.off_study.record(who, self.trial_id, pid, "lost-to-follow-up",
                                      local_date(self.protocol, c.site_id, self.clock.now), e.not_done)
                self.summary.off_study += 1
            self.forms.mark_not_done(who, self.trial_id, pid, e.form_id, e.visit_id, e.not_done,
                                     read_back=self.read_back)
            self.summary.not_done += 1
            return
        result = self.forms.save(who, self.trial_id, pid, e.form_id, e.visit_id, e.values, reason=e.reason,
                                 read_back=self.read_back)
        if e.reason:
            self.summary.changes += int(result.changed)
        else:
            self.summary.forms += 1
            self.summary.day28_outcomes += int((e.form_id, e.visit_id) == ("outcome", "day28"))
            if e.form_id == "adverse_event":
                self.summary.serious_adverse_events += 1

    # --- trial conduct: queries, a lock, a signature, an emergency unblinding ------------------------------------

    def _plan_conduct(self, c: Candidate, pid: int, entries: list[FormEntry]) -> None:
        baseline = next((e for e in entries if e.form_id == "clinical_status" and e.visit_id == "baseline"
                         and e.values is not None), None)
        if baseline is not None and baseline.values and c.number % 11 == 3 and self.query_plan < 6:
            plan = self.query_plan
            self.query_plan += 1
            field_id, question, correct, answer = QUERIES[plan % len(QUERIES)]
            if field_id in baseline.values:
                raised = baseline.entered_at + dt.timedelta(days=6, hours=2)
                # the last query stays open, the one before it waits for the monitor: a live trial has both
                steps = 1 if plan == 5 else 2 if plan == 4 else 3
                self.push(raised, "query", (c, pid, baseline, field_id, question, correct, answer, steps))
                return
        if self.signed or c.site_id not in self._investigator_sites() or c.number == self.unblind_number:
            return
        if any(e.reason for e in entries) or any(e.form_id == "adverse_event" and e.values for e in entries):
            return
        expected = sum(len(f.visits) for f in self.protocol.forms if f.asked_if is None)
        if len(entries) == expected:
            self.signed = True
            last = max(e.entered_at for e in entries)
            self.push(last + dt.timedelta(days=2, hours=1), "sign", (c, pid))
            target = next((e for e in entries if (e.form_id, e.visit_id) == ("outcome", "day28")), entries[-1])
            self.push(last + dt.timedelta(days=3, hours=2), "lock", (c, pid, target.form_id, target.visit_id))

    def _investigator_sites(self) -> set[str]:
        inv = self.principals[self.staff.investigator]
        return {g.site_id for g in inv.grants if g.site_id}

    def _query(self, item: tuple[Any, ...]) -> None:
        c, pid, entry, field_id, question, correct, answer, steps = item
        monitor = self.principals[self.staff.monitor]
        q = self.queries.raise_query(monitor, self.trial_id, pid, entry.form_id, entry.visit_id, field_id, question)
        self.summary.queries += 1
        if steps >= 2:
            self.push(self.clock.now + dt.timedelta(days=1, hours=3), "answer",
                      (c, pid, entry, q.id, field_id, correct, answer, steps))

    def _answer(self, item: tuple[Any, ...]) -> None:
        c, pid, entry, query_id, field_id, correct, answer, steps = item
        who = self.coordinator(c.site_id)
        if correct is not None:
            current = self.forms.get(who, self.trial_id, pid, entry.form_id, entry.visit_id).values
            new = correct(current.get(field_id))
            if new is not None and new != current.get(field_id):
                result = self.forms.save(who, self.trial_id, pid, entry.form_id, entry.visit_id, {field_id: new},
                                         merge=True, reason=f"query {query_id}: {answer}")
                self.summary.changes += int(result.changed)
        self.queries.answer(who, self.trial_id, query_id, answer)
        if steps >= 3:
            self.push(self.clock.now + dt.timedelta(days=2), "close", query_id)

    def _close(self, query_id: int) -> None:
        self.queries.close(self.principals[self.staff.monitor], self.trial_id, query_id, "Resolved; thank you.")

    def _sign(self, item: tuple[Candidate, int]) -> None:
        _c, pid = item
        inv = self.principals[self.staff.investigator]
        self.signatures.sign(inv, self.trial_id, pid, None, None, "approval", self.staff.password,
                             username=self.staff.investigator)
        self.summary.signatures += 1

    def _lock(self, item: tuple[Candidate, int, str, str]) -> None:
        _c, pid, form_id, visit_id = item
        self.locks.lock_form(self.principals[self.staff.monitor], self.trial_id, pid, form_id, visit_id,
                             "source data verified")
        self.summary.locked_forms += 1

    def _unblind(self, item: tuple[Candidate, int]) -> None:
        _c, pid = item
        self.unblinding.emergency(self.principals[self.staff.investigator], self.trial_id, pid,
                                  "Anaphylactoid reaction with shock during the first infusion: the treating "
                                  "physician must know whether cells were given", self.staff.password)
        self.summary.unblindings += 1
