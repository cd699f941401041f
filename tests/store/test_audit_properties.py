"""AUD-1 as a property: any sequence of writes through the real HTTP app leaves a trail that verifies.

A Hypothesis state machine drives the demo trial through the JSON API as the roles of ``tests.server.conftest``
(coordinators of two sites, the investigator, the monitor, the statisticians, pharmacovigilance): it enrols
patients (eligible or not, with idempotency keys, sometimes reused), randomizes them (retrying with the same key,
or with another patient's key), enrols and randomizes in one request, corrects enrolment values, saves, changes
and marks not done case report forms with good and bad values, raises, answers, reopens and closes queries,
signs forms and casebooks, locks and unlocks forms, casebooks and the database, unblinds in an emergency and
records patients off study; now and then with the wrong role, site, password or reason.

A model of the trial predicts the answer of every request, to the status code, and which audit entries it
writes. After every request:

- an accepted change wrote entries of exactly the tables (or events) the model expects, every one naming the
  user who made the request (name and id) and, for the rows of the trial, the reason given with it; an accepted
  request that changes nothing (a retried idempotency key, a form saved again with the same values) wrote none
  and changed no row;
- a refused request (4xx) changed no audited row of the trial, and wrote only the entries that record a refusal
  by design: ``enrolment.refused`` for an ineligible patient, ``signature.refused`` for a signature under another
  user name, ``reauth.failed`` and the user's failure counter (ACC-1) for a wrong password.

At the end of every example ``GET /api/audit/verify`` must be clean on the database the app writes to (and the
``equipoise audit verify`` command on it after the run), and what the API reports (patients and their values,
allocations, replay, queries, forms, signatures, locks, off-study records, the database lock) must equal the model.
In the permuted-blocks variant no stratum is ever more than half the largest block out of balance; in both variants
a retried key never gives a second allocation.

Each example gets its own copy of the trial on the module's database (users and their sessions are made once,
as in ``tests.forms``), with a few patients enrolled, and starts with every user's failure counter at zero, so
that the same steps meet the same state when Hypothesis replays or shrinks an example. ``audit verify`` checks
the whole database, so earlier examples are verified again each time. The server's clock is stopped for the run:
the model's "today" at each site is the server's.

The random choices are weighted toward what a trial mostly does (an allowed user, good values) and toward the
first item of each list, which Hypothesis tries most; still about two requests in three are refused. In longer
runs (250 examples of 60 steps on SQLite, about 13,700 requests; 60 on PostgreSQL, 3,600) the model and the
server agreed; the machine found that a re-authentication's failure count was written as "system" (fixed in
``store/auth.py``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule, run_state_machine_as_test
from sqlalchemy import func, inspect, select, text

from equipoise.identity.roles import PERMISSIONS, Action
from equipoise.integrity.audit_verify import verify
from equipoise.store.audit import AuditContext, row_values
from equipoise.store.models import AuditEntry, Patient, User
from equipoise.store.schema import audited_models
from tests.conftest import CliResult
from tests.forms.conftest import PUMCH, World, make_world, site_date, world
from tests.server.conftest import USERS
from tests.store.support import DEMO, PASSWORD

__all__ = ["world"]

ZONES = {"pumch": PUMCH, "milan-sacco": ZoneInfo("Europe/Rome")}
ROLE = {name: role for name, (role, _site) in USERS.items()}
SITE = {name: site for name, (_role, site) in USERS.items()}
ARMS = ("msc", "placebo")
MAX_BLOCK = 4
PERMUTED_BLOCKS = f"""randomization:
  method: permuted-blocks
  block_sizes: [2, {MAX_BLOCK}]
  factors:
    - {{id: severity, field: severity}}
    - {{id: age65, field: age, cutpoints: [65], levels: [under-65, 65-and-over]}}
    - {{id: site, field: site}}
  stratify_by: [severity, site]
"""
# Form -> (form id, visit id, required fields); the adverse event form repeats (one record per event).
FORMS = {
    "clinical": ("clinical_status", "baseline", ("assessment_date", "who_score")),
    "imaging": ("imaging", "baseline", ("ct_date",)),
    "ae": ("adverse_event", "day3", ("onset_date", "description", "severity_grade", "related")),
}
RELATED = ("unrelated", "unlikely", "possible", "probable", "definite")
MEANINGS = ("approval", "review", "responsibility", "authorship")
COUNTERS = {"failed_logins", "locked_until"}  # a user's failed re-authentications (ACC-1), audited by design
WRONG_PASSWORDS_IN_A_ROW = 3  # below the lockout (5): a locked account would refuse the rest of the run

FormKey = tuple[int, str, str, int]  # patient, form, visit, record number
Target = tuple[str, str, int] | str  # a form record (form, visit, record number) or "casebook"


def can(user: str, action: Action) -> bool:
    return ROLE[user] in PERMISSIONS[action]


def other_site(user: str, site: str) -> bool:
    """A site-scoped user (coordinator, investigator) of another site: the patient does not exist for them."""
    return SITE[user] not in (None, site)


def chosen(action: Action, site: str, who: str, someone: int) -> str:
    """Who makes a request about a patient of ``site``: mostly a user allowed to do it there, now and then a
    coordinator of the other site or a role that may not do it at all."""
    if who == "other-site":
        return "coord_milan" if site == "pumch" else "coord"
    allowed = who == "allowed"
    pool = [u for u in USERS if u != "admin" and can(u, action) == allowed and not (allowed and other_site(u, site))]
    return pool[someone % len(pool)] if pool else "investigator"  # no investigator at Milan: 404


WHO = st.sampled_from(["allowed"] * 5 + ["other-site", "other-role"])
SOMEONE = st.integers(0, 7)
# Hypothesis tries the first of a list most: the commonest choice comes first in each.
FORM = st.sampled_from(["clinical", "imaging", "ae"])
# A form entry: who, which user, which form, good, bad or missing values, which values, saved as incomplete, with a
# reason, which record of a repeating form.
ENTRY = st.tuples(WHO, SOMEONE, FORM, st.sampled_from(["good", "good", "good", "bad", "missing"]),
                  st.integers(0, 3), st.booleans(), st.sampled_from([True, True, False]),
                  st.sampled_from(["next", "existing", "existing", "gap"]))
WRONG = st.sampled_from([False] * 5 + [True])  # a wrong password, now and then


def access(user: str, action: Action, site: str) -> int | None:
    """The refusal of ``equipoise.services.crf_access.patient_for``: 403 for the role, then 404 for another site."""
    if not can(user, action):
        return 403
    return 404 if other_site(user, site) else None


@dataclass
class PatientModel:
    id: int
    site: str
    values: dict[str, Any]
    enrolled_on: dt.date
    enrol_key: str | None
    allocation: dict[str, Any] | None = None  # allocation_id, kit_code, key, factors
    off_study: str | None = None
    locked: bool = False

    def eligible(self) -> bool:
        """Eligibility as the corrections of this machine can change it (age and consent)."""
        return int(self.values["age"]) >= 18 and self.values["consent"] is True


@dataclass
class FormModel:
    values: dict[str, Any]
    status: str
    version: int = 1
    locked: bool = False


@dataclass
class QueryModel:
    patient_id: int
    form_id: str
    visit_id: str
    status: str = "open"


@dataclass
class Expect:
    """What the model expects of one request: its status code and the kinds of audit entries it writes."""

    status: int
    kinds: set[str] = field(default_factory=set)
    reason: str | None = None  # the reason every entry of a changed row of the trial gives (None: not asked)

    @property
    def ok(self) -> bool:
        return self.status < 400


def kind_of(entry: AuditEntry) -> str:
    return f"table:{entry.table_name}" if entry.table_name else entry.action


def trial_rows(world: World, trial_id: str) -> dict[str, dict[str, Any]]:
    """Every audited row of the trial (and every user, without the failure counters), keyed by table and id."""
    rows: dict[str, dict[str, Any]] = {}
    with world.db.read() as s:
        for model in audited_models():
            table = model.__tablename__
            query = select(model)
            if table == "trials":
                query = query.where(model.id == trial_id)  # type: ignore[attr-defined]
            elif "trial_id" in model.__table__.columns:
                query = query.where(model.trial_id == trial_id)  # type: ignore[attr-defined]
            for row in s.scalars(query):
                values = row_values(row)
                if table == "users":
                    values = {k: v for k, v in values.items() if k not in COUNTERS}
                key = "/".join(str(p) for p in inspect(model).primary_key_from_instance(row))
                rows[f"{table}/{key}"] = values
    return rows


def site_of_entries(world: World, entries: list[AuditEntry]) -> list[tuple[int, str | None, str | None]]:
    """(entry, its site, the site its record says) for each entry: a row's own site, else its patient's (a patient's
    row is its patient), else none; an event's site or patient named in its details. A deleted row (an off-study
    record cancelled) is read from the entry's old values, which hold every column."""
    models = {m.__tablename__: m for m in audited_models()}
    out = []
    with world.db.read() as s:
        sites = dict(s.execute(select(Patient.id, Patient.site_id)).all())
        for e in entries:
            model = models.get(e.table_name or "")
            table = model.__table__ if model is not None else None
            record = e.record_id or ""
            row_id = int(record) if record.isdigit() else 0  # a trial's record id is its id
            expected: str | None = None
            if table is None:
                details = e.new_values or {}
                expected = details.get("site_id") or sites.get(details.get("patient_id", 0))
            elif e.table_name == "patients":
                expected = sites.get(row_id)
            elif e.action == "delete":
                old = e.old_values or {}
                expected = old.get("site_id") or sites.get(old.get("patient_id", 0))
            elif "site_id" in table.columns:
                expected = s.scalar(select(table.c.site_id).where(table.c.id == row_id))
            elif "patient_id" in table.columns:
                patient = s.scalar(select(table.c.patient_id).where(table.c.id == row_id))
                expected = sites.get(patient) if patient is not None else None
            out.append((e.id, e.site_id, expected))
    return out


def last_entry(world: World) -> int:
    with world.db.read() as s:
        return int(s.scalar(select(func.max(AuditEntry.id))) or 0)


class AuditTrailMachine(RuleBasedStateMachine):
    world: ClassVar[World]
    variants: ClassVar[tuple[str, ...]] = ("minimization", "permuted-blocks")
    keys = itertools.count(1)

    def __init__(self) -> None:
        super().__init__()
        self.patients: dict[int, PatientModel] = {}
        self.forms: dict[FormKey, FormModel] = {}
        self.queries: dict[int, QueryModel] = {}
        self.signed: set[tuple[int, Target, str]] = set()  # valid signatures: patient, what, meaning
        self.db_locked = False
        self.trial_id = ""
        self.variant = ""
        # Every example starts with no failed re-authentication (an earlier example may have left some): a change
        # of the users rows, audited like any other, so that the same steps always meet the same state.
        self.user_ids: dict[str, int] = {}
        with self.world.db.write(AuditContext(actor="test", reason="property test: a new example")) as s:
            for user in s.scalars(select(User)):
                user.failed_logins, user.locked_until = 0, None
                self.user_ids[user.username] = user.id
        self.failures = dict.fromkeys(USERS, 0)

    # --- the trial ------------------------------------------------------------------------------------------------

    @initialize(variant=st.sampled_from(variants), sites=st.lists(st.sampled_from(["pumch", "pumch", "milan-sacco"]),
                                                                 min_size=1, max_size=4),
                randomized=st.sampled_from([1, 2, 0, 4]))
    def new_trial(self, variant: str, sites: list[str], randomized: int) -> None:
        """A new copy of the trial, with a few patients already enrolled (and some randomized), so that the rules
        about patients have something to work on from the first step."""
        protocol = DEMO.read_text()
        if variant == "permuted-blocks":
            start, end = protocol.index("randomization:\n"), protocol.index("\nsites:")
            protocol = protocol[:start] + PERMUTED_BLOCKS + protocol[end:]
        self.variant = variant
        self.trial_id = self.world.trial(protocol).id
        note(f"trial {self.trial_id} ({variant})")
        for i, site in enumerate(sites):
            self.enrol(who="allowed", someone=0, site=site, kind="eligible", severity=("mild", "severe")[i % 2],
                       age=54, key_mode="new", pick=0)
        for pick in range(min(randomized, len(sites))):
            self.randomize(pick=pick, who="allowed", someone=0, key_mode="new", other=0)

    @property
    def base(self) -> str:
        return f"/api/trials/{self.trial_id}"

    def key(self) -> str:
        return f"{self.trial_id}-K{next(self.keys)}"

    def today(self, site: str) -> dt.date:
        """Today at the site, by the server's clock (the tests run with it stopped: see ``stopped_clock``)."""
        return site_date(self.world.now, zone=ZONES[site])

    def patient(self, pick: int) -> PatientModel:
        return self.patients[sorted(self.patients)[pick % len(self.patients)]]

    def record_for(self, pick: int, form: str) -> tuple[PatientModel, FormKey]:
        """The form record a lock or a signature names: a saved one ("saved"; a complete one at PUMCH, where the
        investigator signs, if there is one), or that form of a patient with saved forms (it may not be saved)."""
        if form != "saved":
            p = self.patient_with_forms(pick)
            return p, self.form_key(p, form, "existing")[0]
        keys = sorted(self.forms)
        best = [k for k in keys if self.forms[k].status == "complete" and self.patients[k[0]].site == "pumch"]
        key = (best or keys)[pick % len(best or keys)]
        return self.patients[key[0]], key

    def patient_with_forms(self, pick: int) -> PatientModel:
        """A patient with saved forms, if there is one (changes, locks and signatures need them)."""
        with_forms = sorted({k[0] for k in self.forms})
        return self.patients[with_forms[pick % len(with_forms)]] if with_forms else self.patient(pick)

    # --- one request, and the invariants every request keeps ------------------------------------------------------

    def call(self, user: str, method: str, path: str, expect: Expect, body: Any = None,
             key: str | None = None) -> Any:
        world = self.world
        headers = world.headers(user, **({"Idempotency-Key": key} if key else {}))
        changes = {k for k in expect.kinds if k.startswith("table:") and k != "table:users"}
        before_rows = None if changes else trial_rows(world, self.trial_id)
        before = last_entry(world)
        response = world.client.request(method, self.base + path, json=body, headers=headers)
        note(f"{method} {path} as {user} -> {response.status_code} (expected {expect.status} "
             f"{sorted(expect.kinds)})")
        assert response.status_code == expect.status, (
            f"{method} {path} as {user}: {response.status_code} {response.text}, expected {expect.status}")
        with world.db.read() as s:
            entries = s.scalars(select(AuditEntry).where(AuditEntry.id > before).order_by(AuditEntry.id)).all()
        got = {kind_of(e) for e in entries}
        assert got == expect.kinds, f"{method} {path} as {user}: entries {sorted(got)}, expected {sorted(expect.kinds)}"
        assert {(e.actor, e.actor_id) for e in entries} <= {(user, self.user_ids[user])}, (
            f"entries name {[(e.actor, e.actor_id) for e in entries]}, not {user}")
        rows = [e for e in entries if e.table_name not in (None, "users")]
        assert all(e.trial_id == self.trial_id for e in rows)
        wrong = [(entry, site, expected) for entry, site, expected in site_of_entries(world, list(entries))
                 if site != expected]
        assert not wrong, f"{method} {path} as {user}: entries name sites (entry, site, its record's site) {wrong}"
        if expect.reason is not None and rows:
            assert {e.reason for e in rows} == {expect.reason}, [(e.table_name, e.reason) for e in rows]
        if before_rows is not None:
            assert trial_rows(world, self.trial_id) == before_rows, f"{method} {path} as {user} changed rows"
        return response.json() if response.content else None

    def reauth(self, user: str, password_ok: bool, kinds: set[str]) -> Expect | None:
        """The password asked again: a wrong one refuses (401) and counts; a right one resets the counter."""
        if not password_ok:
            self.failures[user] += 1
            return Expect(401, {"reauth.failed", "table:users"})
        if self.failures[user]:
            kinds.add("table:users")
        self.failures[user] = 0
        return None

    def password(self, user: str, wrong: bool) -> tuple[str, bool]:
        ok = not wrong or self.failures[user] >= WRONG_PASSWORDS_IN_A_ROW
        return (PASSWORD if ok else "not the password"), ok

    def invalidate(self, pid: int, target: Target | None) -> bool:
        """Signatures a change invalidates: the form's own, and the patient's casebook signatures."""
        gone = {s for s in self.signed if s[0] == pid and s[1] in ("casebook", target)}
        self.signed -= gone
        return bool(gone)

    def allocations(self) -> list[dict[str, Any]]:
        response = self.world.client.get(f"{self.base}/allocations", params={"limit": 10000},
                                          headers=self.world.headers("unblinded_stat"))
        assert response.status_code == 200, response.text
        return list(response.json())

    def check_allocations(self) -> None:
        """One allocation per randomized patient, never a second (a retried key replays), blocks balanced."""
        made = self.allocations()
        expected = {p.id: p.allocation for p in self.patients.values() if p.allocation}
        assert {a["patient_id"]: (a["allocation_id"], a["kit_code"]) for a in made} == {
            pid: (a["allocation_id"], a["kit_code"]) for pid, a in expected.items()}
        assert len({a["kit_code"] for a in made}) == len(made)
        if self.variant == "permuted-blocks":
            arms = Counter((a["stratum"], a["arm"]) for a in made)
            for stratum in {a["stratum"] for a in made}:
                assert abs(arms[stratum, "msc"] - arms[stratum, "placebo"]) <= MAX_BLOCK // 2, (stratum, arms)

    # --- enrolment and randomization ------------------------------------------------------------------------------

    @rule(who=WHO, someone=SOMEONE, site=st.sampled_from(["pumch", "pumch", "pumch", "milan-sacco"]),
          kind=st.sampled_from(["eligible"] * 4 + ["young", "no-consent", "old-onset", "bad-age", "no-severity"]),
          severity=st.sampled_from(["mild", "severe", "critical"]), age=st.sampled_from([30, 54, 70]),
          key_mode=st.sampled_from(["none", "new", "new", "reuse"]), pick=st.integers(0, 20))
    def enrol(self, who: str, someone: int, site: str, kind: str, severity: str, age: int, key_mode: str,
              pick: int) -> None:
        user = chosen(Action.ENROL, site, who, someone)
        values = self.enrolment_values(site, kind, severity, age)
        keyed = [p for p in self.patients.values() if p.enrol_key]
        key = (keyed[pick % len(keyed)].enrol_key if key_mode == "reuse" and keyed
               else None if key_mode == "none" else self.key())
        same = next((p for p in self.patients.values() if key and p.enrol_key == key), None)
        if not can(user, Action.ENROL) or other_site(user, site):
            expect = Expect(403)
        elif same is not None:
            # a retry replays; the key with another site or other values is refused (422, IETF idempotency draft)
            expect = Expect(201) if same.site == site and same.values == values else Expect(422)
        elif self.db_locked:
            expect = Expect(423)
        elif kind in ("bad-age", "no-severity"):
            expect = Expect(422)
        elif kind != "eligible":
            expect = Expect(422, {"enrolment.refused"})
        else:
            expect = Expect(201, {"table:patients"}, "enrolment")
        body = self.call(user, "POST", "/patients", expect, {"site_id": site, "values": values}, key)
        if same is not None and expect.ok:
            assert body["id"] == same.id  # the retry gets the patient enrolled under its key
        elif expect.ok:
            assert body["status"] == "enrolled"
            self.patients[body["id"]] = PatientModel(body["id"], site, dict(body["values"]),
                                                     dt.date.fromisoformat(body["enrolment_date"]), key)

    def enrolment_values(self, site: str, kind: str, severity: str, age: int) -> dict[str, Any]:
        today = self.today(site)
        values: dict[str, Any] = {
            "age": age, "sex": "female", "severity": severity, "sars_cov_2_pcr": True,
            "symptom_onset": (today - dt.timedelta(days=3)).isoformat(), "who_baseline": 5, "pregnant": False,
            "malignancy": False, "consent": True}
        if kind == "young":
            values["age"] = 16
        elif kind == "no-consent":
            values["consent"] = False
        elif kind == "old-onset":
            values["symptom_onset"] = (today - dt.timedelta(days=20)).isoformat()
        elif kind == "bad-age":
            values["age"] = 130
        elif kind == "no-severity":
            values["severity"] = None
        return values

    @precondition(lambda self: self.patients)
    @rule(pick=st.integers(0, 20), who=WHO, someone=SOMEONE,
          key_mode=st.sampled_from(["new", "new", "retry", "other"]), other=st.integers(0, 20))
    def randomize(self, pick: int, who: str, someone: int, key_mode: str, other: int) -> None:
        p = self.patient(pick)
        user = chosen(Action.RANDOMIZE, p.site, who, someone)
        randomized = [q for q in self.patients.values() if q.allocation and q is not p]
        if key_mode == "retry" and p.allocation:
            key = str(p.allocation["key"])
        elif key_mode == "other" and randomized:
            key = str(randomized[other % len(randomized)].allocation["key"])  # type: ignore[index]
        else:
            key = self.key()
        by_key = next((q for q in self.patients.values() if q.allocation and q.allocation["key"] == key), None)
        if not can(user, Action.RANDOMIZE):
            expect = Expect(403)
        elif other_site(user, p.site):
            expect = Expect(404)
        else:
            expect = self.randomization(p, by_key)
        body = self.call(user, "POST", f"/patients/{p.id}/randomize", expect, key=key)
        self.randomized(p, key, expect, body)

    def randomization(self, p: PatientModel, by_key: PatientModel | None) -> Expect:
        """``RandomizationService.randomize_in`` once the role and site are allowed: a retry is answered even under
        the database lock (it changes nothing), anything else is refused by the lock first."""
        if by_key is not None:
            # another patient's key: 422, a key reused with a different request (IETF idempotency-key draft)
            return Expect(200) if by_key is p else Expect(422)
        if self.db_locked:
            return Expect(423)
        if p.allocation is not None:
            return Expect(409)
        if not p.eligible():
            return Expect(422)
        return Expect(201, {"table:patients", "table:allocations", "table:allocation_states"}, "randomization")

    def randomized(self, p: PatientModel, key: str, expect: Expect, body: Any) -> None:
        if expect.status == 200:
            assert p.allocation is not None
            assert body["replayed"] is True
            assert (body["allocation_id"], body["kit_code"]) == (p.allocation["allocation_id"],
                                                                 p.allocation["kit_code"])
        elif expect.status == 201:
            assert body["replayed"] is False
            assert body["arm"] is None  # no role that randomizes sees arms of the blinded trial
            assert str(body["kit_code"]).startswith("MSC-")
            p.allocation = {"allocation_id": body["allocation_id"], "kit_code": body["kit_code"], "key": key,
                            "factors": dict(body["factors"])}
        if expect.ok:
            self.check_allocations()

    @rule(who=WHO, someone=SOMEONE, site=st.sampled_from(["pumch", "pumch", "pumch", "milan-sacco"]),
          kind=st.sampled_from(["eligible", "eligible", "eligible", "young"]),
          severity=st.sampled_from(["mild", "severe", "critical"]), age=st.sampled_from([30, 54, 70]),
          key_mode=st.sampled_from(["new", "new", "new", "enrol-key", "allocation-key"]), pick=st.integers(0, 20))
    def enrol_and_randomize(self, who: str, someone: int, site: str, kind: str, severity: str, age: int,
                            key_mode: str, pick: int) -> None:
        user = chosen(Action.RANDOMIZE, site, who, someone)
        values = self.enrolment_values(site, kind, severity, age)
        keyed = [p.enrol_key for p in self.patients.values() if p.enrol_key]
        allocated = [str(p.allocation["key"]) for p in self.patients.values() if p.allocation]
        pool = keyed if key_mode == "enrol-key" else allocated if key_mode == "allocation-key" else []
        key = pool[pick % len(pool)] if pool else self.key()
        enrolled = next((p for p in self.patients.values() if p.enrol_key == key), None)
        by_key = next((p for p in self.patients.values() if p.allocation and p.allocation["key"] == key), None)
        if not can(user, Action.RANDOMIZE) or other_site(user, site):
            expect = Expect(403)
        elif enrolled is not None:
            expect = (Expect(422) if enrolled.site != site or enrolled.values != values
                      else self.randomization(enrolled, by_key))
        elif self.db_locked:
            expect = Expect(423)
        elif kind != "eligible":
            expect = Expect(422, {"enrolment.refused"})
        elif by_key is not None:
            expect = Expect(422)  # the key randomized another patient: the enrolment rolls back with it
        else:
            expect = Expect(201, {"table:patients", "table:allocations", "table:allocation_states"})
        body = self.call(user, "POST", "/enrol-and-randomize", expect, {"site_id": site, "values": values}, key)
        if not expect.ok:
            return
        pid = body["patient"]["id"]
        if enrolled is not None:
            assert pid == enrolled.id
        else:
            self.patients[pid] = PatientModel(pid, site, dict(body["patient"]["values"]),
                                              dt.date.fromisoformat(body["patient"]["enrolment_date"]), key)
        assert body["patient"]["status"] == "randomized"
        self.randomized(self.patients[pid], key, expect, body["allocation"])

    @precondition(lambda self: self.patients)
    @rule(pick=st.integers(0, 20), who=WHO, someone=SOMEONE,
          change=st.sampled_from([("age", 55), ("age", 16), ("age", 70), ("consent", False), ("consent", True),
                                  ("severity", "mild"), ("severity", "critical"), ("severity", "severe")]),
          reason=st.sampled_from([True, True, True, False]))
    def correct(self, pick: int, who: str, someone: int, change: tuple[str, Any], reason: bool) -> None:
        p = self.patient(pick)
        user = chosen(Action.CORRECT_ENROLMENT, p.site, who, someone)
        name, value = change
        after = {**p.values, name: value}
        raised = self.discrepancies(p, name, value, after)
        if not reason:
            expect = Expect(422)
        elif not can(user, Action.VIEW_PATIENTS):
            expect = Expect(403)
        elif other_site(user, p.site):
            expect = Expect(404)
        elif not can(user, Action.CORRECT_ENROLMENT):
            expect = Expect(403)
        elif self.db_locked or p.locked:
            expect = Expect(423)
        else:
            expect = Expect(200, ({"table:patients"} if after != p.values else set())
                            | ({"table:discrepancies"} if raised else set()), "source document re-read")
        body = self.call(user, "PATCH", f"/patients/{p.id}", expect,
                         {"values": {name: value}, "reason": "source document re-read" if reason else ""})
        if expect.ok:
            p.values = after
            assert body["patient"]["values"] == after
            assert [d["field"] for d in body["discrepancies"]] == raised

    def discrepancies(self, p: PatientModel, name: str, value: Any, after: dict[str, Any]) -> list[str]:
        """RND-4: a corrected factor that gives another level than the one randomized on, and eligibility lost."""
        if p.allocation is None:
            return []
        factors = p.allocation["factors"]
        factor = {"severity": "severity", "age": "age65"}.get(name)
        level = str(value) if name == "severity" else "under-65" if name == "age" and value < 65 else "65-and-over"
        raised = [factor] if factor is not None and factor in factors and level != factors[factor] else []
        if not PatientModel(p.id, p.site, after, p.enrolled_on, None).eligible():
            raised.append("eligibility")
        return raised

    # --- case report forms ----------------------------------------------------------------------------------------

    def form_key(self, p: PatientModel, form: str, instance_mode: str) -> tuple[FormKey, int]:
        """The record a request names, and how many records of that form and visit there are."""
        form_id, visit_id, _required = FORMS[form]
        saved = sum(1 for k in self.forms if k[:3] == (p.id, form_id, visit_id))
        instance = 1
        if form == "ae":
            instance = {"next": saved + 1, "existing": max(saved, 1), "gap": saved + 2}[instance_mode]
        return (p.id, form_id, visit_id, instance), saved

    def form_values(self, form: str, quality: str, n: int, site: str, patch: bool) -> dict[str, Any]:
        today = self.today(site)
        tomorrow, yesterday = today + dt.timedelta(days=1), today - dt.timedelta(days=1)
        if form == "clinical":
            values: dict[str, Any] = {"assessment_date": today.isoformat(), "who_score": n, "spo2": 90 + n,
                                      "resp_rate": 14 + n}
            bad, missing = {"spo2": 120, "assessment_date": tomorrow.isoformat()}, "who_score"
            small = {"who_score": n}
        elif form == "imaging":
            values = {"ct_date": today.isoformat(), "ct_improved": n % 2 == 0}
            bad, missing = {"ct_date": tomorrow.isoformat()}, "ct_date"
            small = {"ct_improved": n % 2 == 0}
        else:
            values = {"onset_date": today.isoformat(), "description": f"rash {n}", "severity_grade": 1 + n,
                      "related": RELATED[n]}
            bad, missing = {"severity_grade": 7, "resolved_date": yesterday.isoformat()}, "description"
            small = {"severity_grade": 1 + n}
        if patch:
            values = small
        if quality == "bad":
            key = sorted(bad)[n % len(bad)]
            values = {**values, key: bad[key]}
        elif quality == "missing":
            values = {**values, missing: None} if patch else {k: v for k, v in values.items() if k != missing}
        return values

    @precondition(lambda self: self.patients)
    @rule(pick=st.integers(0, 20), entry=ENTRY)
    def save_form(self, pick: int, entry: tuple[str, int, str, str, int, bool, bool, str]) -> None:
        who, someone, form, quality, n, incomplete, reason, instance_mode = entry
        self.enter_form(pick, who, someone, form, quality, n, incomplete, reason, False, instance_mode)

    @precondition(lambda self: self.forms)
    @rule(pick=st.integers(0, 20), entry=ENTRY)
    def change_form(self, pick: int, entry: tuple[str, int, str, str, int, bool, bool, str]) -> None:
        who, someone, form, quality, n, incomplete, reason, instance_mode = entry
        p = self.patient_with_forms(pick)
        self.enter_form(sorted(self.patients).index(p.id), who, someone, form, quality, n, incomplete, reason, True,
                        "gap" if instance_mode == "gap" else "existing")

    def enter_form(self, pick: int, who: str, someone: int, form: str, quality: str, n: int, incomplete: bool,
                   reason: bool, patch: bool, instance_mode: str) -> None:
        """Save a whole form (PUT) or change some of its fields (PATCH), with good, bad or missing values."""
        p = self.patient(pick)
        user = chosen(Action.ENTER_DATA, p.site, who, someone)
        key, saved = self.form_key(p, form, instance_mode)
        _pid, form_id, visit_id, instance = key
        record = self.forms.get(key)
        given = self.form_values(form, quality, n, p.site, patch)
        raw = {**(record.values if record and patch else {}), **given}
        if patch:
            raw = {k: v for k, v in raw.items() if v is not None and v != ""}
        missing = [f for f in FORMS[form][2] if f not in raw]
        status = "incomplete" if missing else "complete"
        expect = self.form_refusal(user, p, key, record, saved, new_data=True)
        if expect is None and patch and record is None:
            expect = Expect(404)
        if expect is None and record is None and instance != saved + 1:
            expect = Expect(409)
        if expect is None and (quality == "bad" or (missing and not incomplete)):
            expect = Expect(422)
        if expect is None and record is not None and raw == record.values and status == record.status:
            expect = Expect(200)  # saved again unchanged: nothing written
        if expect is None and record is not None and not reason:
            expect = Expect(422)
        if expect is None:
            expect = Expect(200, {"table:form_records"}, "chart re-read" if reason else None)
            if self.invalidate(p.id, None if record is None else key[1:]):
                expect.kinds.add("table:signatures")
        body = {"values": given, "incomplete": incomplete, **({"reason": "chart re-read"} if reason else {})}
        url = f"/patients/{p.id}/forms/{form_id}/{visit_id}?instance={instance}"
        answer = self.call(user, "PATCH" if patch else "PUT", url, expect, body)
        if not expect.ok:
            return
        if record is None:
            record = self.forms[key] = FormModel(raw, status)
        elif expect.kinds:
            record.values, record.status, record.version = raw, status, record.version + 1
        assert (answer["values"], answer["status"], answer["version"], answer["changed"]) == (
            record.values, record.status, record.version, bool(expect.kinds))

    def form_refusal(self, user: str, p: PatientModel, key: FormKey, record: FormModel | None, saved: int,
                     *, new_data: bool) -> Expect | None:
        """The refusals ``FormService.save`` (``new_data``) and ``mark_not_done`` make before looking at values."""
        refused = access(user, Action.ENTER_DATA, p.site)
        if refused:
            return Expect(refused)
        visit_id = key[2]
        if new_data and visit_id == "day3" and p.allocation is None:
            return Expect(409)  # day 3 counts from randomization
        if self.db_locked or p.locked or (record is not None and record.locked):
            return Expect(423)
        if new_data and visit_id == "day3" and p.off_study == "withdrew-consent":
            return Expect(409)  # the visit opens after the withdrawal (today)
        return None

    @precondition(lambda self: self.patients)
    @rule(pick=st.integers(0, 20), who=WHO, someone=SOMEONE, form=st.sampled_from(["imaging", "ae", "clinical"]),
          instance_mode=st.sampled_from(["next", "existing", "gap"]))
    def mark_not_done(self, pick: int, who: str, someone: int, form: str, instance_mode: str) -> None:
        p = self.patient(pick)
        user = chosen(Action.ENTER_DATA, p.site, who, someone)
        key, saved = self.form_key(p, form, instance_mode)
        _pid, form_id, visit_id, instance = key
        record = self.forms.get(key)
        expect = self.form_refusal(user, p, key, record, saved, new_data=False)
        if expect is None and record is None and instance != saved + 1:
            expect = Expect(409)
        if expect is None and record is not None and record.status == "not-done":
            expect = Expect(409)
        if expect is None:
            expect = Expect(200, {"table:form_records"}, "visit missed")
            if self.invalidate(p.id, None if record is None else key[1:]):
                expect.kinds.add("table:signatures")
        url = f"/patients/{p.id}/forms/{form_id}/{visit_id}/not-done?instance={instance}"
        answer = self.call(user, "POST", url, expect, {"reason": "visit missed"})
        if not expect.ok:
            return
        if record is None:
            record = self.forms[key] = FormModel({}, "not-done")
        else:
            record.values, record.status, record.version = {}, "not-done", record.version + 1
        assert (answer["status"], answer["version"]) == ("not-done", record.version)

    # --- queries --------------------------------------------------------------------------------------------------

    @precondition(lambda self: self.patients)
    @rule(pick=st.integers(0, 20), who=WHO, someone=SOMEONE, form=FORM,
          on_field=st.booleans())
    def raise_query(self, pick: int, who: str, someone: int, form: str, on_field: bool) -> None:
        p = self.patient(pick)
        user = chosen(Action.RAISE_QUERY, p.site, who, someone)
        form_id, visit_id, required = FORMS[form]
        refused = access(user, Action.RAISE_QUERY, p.site)
        expect = (Expect(refused) if refused else Expect(423) if self.db_locked else
                  Expect(201, {"table:form_queries"}, "query raised"))
        body = self.call(user, "POST", "/queries", expect, {
            "patient_id": p.id, "form_id": form_id, "visit_id": visit_id, "text": "source document?",
            **({"field_id": required[0]} if on_field else {})})
        if expect.ok:
            assert body["status"] == "open"
            self.queries[body["id"]] = QueryModel(p.id, form_id, visit_id)

    @precondition(lambda self: self.queries)
    @rule(pick=st.integers(0, 20), who=WHO, someone=SOMEONE,
          what=st.sampled_from(["answer", "answer", "close", "close", "reopen"]))
    def query_step(self, pick: int, who: str, someone: int, what: str) -> None:
        qid = sorted(self.queries)[pick % len(self.queries)]
        query = self.queries[qid]
        action, to, allowed = {"answer": (Action.ANSWER_QUERY, "answered", ("open",)),
                               "close": (Action.CLOSE_QUERY, "closed", ("open", "answered")),
                               "reopen": (Action.RAISE_QUERY, "open", ("answered",))}[what]
        user = chosen(action, self.patients[query.patient_id].site, who, someone)
        refused = access(user, action, self.patients[query.patient_id].site)
        if refused:
            expect = Expect(refused)
        elif self.db_locked:
            expect = Expect(423)
        elif query.status not in allowed:
            expect = Expect(409)
        else:
            expect = Expect(200, {"table:form_queries"}, f"query {to}")
        body = self.call(user, "POST", f"/queries/{qid}/{what}", expect, {"text": f"{what}: see the chart"})
        if expect.ok:
            query.status = to
            assert body["status"] == to

    def unresolved(self, pid: int | None = None, form: tuple[str, str] | None = None) -> bool:
        return any(q.status != "closed" and (pid is None or q.patient_id == pid)
                   and (form is None or (q.form_id, q.visit_id) == form) for q in self.queries.values())

    # --- locks and signatures -------------------------------------------------------------------------------------

    @precondition(lambda self: self.forms)  # locks and signatures are about saved forms
    @rule(pick=st.integers(0, 20), who=WHO, someone=SOMEONE,
          form=st.sampled_from(["saved", "clinical", "imaging", "ae"]), lock=st.booleans(),
          reason=st.sampled_from([True, True, True, False]))
    def lock_form(self, pick: int, who: str, someone: int, form: str, lock: bool, reason: bool) -> None:
        p, key = self.record_for(pick, form)
        user = chosen(Action.LOCK, p.site, who, someone)
        record = self.forms.get(key)
        refused = access(user, Action.LOCK if lock else Action.UNLOCK, p.site)
        if not lock and not reason:
            expect = Expect(422)
        elif refused:
            expect = Expect(refused)
        elif record is None:
            expect = Expect(404)
        elif record.locked == lock or (lock and self.unresolved(p.id, key[1:3])):
            expect = Expect(409)
        elif not lock and p.locked:
            expect = Expect(423)
        else:
            expect = Expect(200, {"table:form_records"}, "clean" if reason else "form locked")
            if not lock and self.invalidate(p.id, key[1:]):
                expect.kinds.add("table:signatures")
        url = f"/patients/{p.id}/forms/{key[1]}/{key[2]}/{'lock' if lock else 'unlock'}?instance={key[3]}"
        body = self.call(user, "POST", url, expect, {"reason": "clean" if reason else "  "})
        if expect.ok:
            assert record is not None
            record.locked = lock
            assert body["locked"] is lock

    @precondition(lambda self: self.patients)
    @rule(pick=st.integers(0, 20), who=WHO, someone=SOMEONE, lock=st.booleans())
    def lock_patient(self, pick: int, who: str, someone: int, lock: bool) -> None:
        p = self.patient(pick)
        user = chosen(Action.LOCK, p.site, who, someone)
        refused = access(user, Action.LOCK if lock else Action.UNLOCK, p.site)
        if refused:
            expect = Expect(refused)
        elif p.locked == lock or (lock and self.unresolved(p.id)):
            expect = Expect(409)
        else:
            expect = Expect(200, {"table:patient_locks"}, "casebook reviewed")
            if not lock and self.invalidate(p.id, None):
                expect.kinds.add("table:signatures")
        body = self.call(user, "POST", f"/patients/{p.id}/{'lock' if lock else 'unlock'}", expect,
                         {"reason": "casebook reviewed"})
        if expect.ok:
            p.locked = lock
            assert body["locked"] is lock

    @precondition(lambda self: self.forms)  # locks and signatures are about saved forms
    @rule(pick=st.integers(0, 20), who=WHO, someone=SOMEONE,
          what=st.sampled_from(["saved", "casebook", "clinical", "imaging", "ae"]), meaning=st.sampled_from(MEANINGS),
          wrong_password=WRONG, wrong_name=st.integers(0, 9))
    def sign(self, pick: int, who: str, someone: int, what: str, meaning: str, wrong_password: bool,
             wrong_name: int) -> None:
        p, key = self.record_for(pick, "saved" if what == "casebook" else what)
        user = chosen(Action.SIGN, p.site, who, someone)
        password, password_ok = self.password(user, wrong_password)
        target: Target = "casebook"
        record = None
        if what != "casebook":
            target, record = key[1:], self.forms.get(key)
        records = [f for k, f in self.forms.items() if k[0] == p.id]
        kinds: set[str] = set()
        expect = Expect(refused) if (refused := access(user, Action.SIGN, p.site)) else None
        if expect is None and wrong_name == 0:
            expect = Expect(401, {"signature.refused"})
        if expect is None:
            expect = self.reauth(user, password_ok, kinds)
        if expect is None and self.db_locked:
            expect = Expect(423, kinds)
        if expect is None and what != "casebook" and record is None:
            expect = Expect(404, kinds)
        if expect is None and record is not None and record.status != "complete":
            expect = Expect(409, kinds)
        if expect is None and what == "casebook" and (not records or any(f.status == "incomplete" for f in records)):
            expect = Expect(409, kinds)
        if expect is None and (p.id, target, meaning) in self.signed:
            expect = Expect(409, kinds)
        if expect is None:
            expect = Expect(201, {*kinds, "table:signatures"}, f"electronic signature ({meaning})")
        url = f"/patients/{p.id}/sign" if what == "casebook" else \
            f"/patients/{p.id}/forms/{target[0]}/{target[1]}/sign?instance={target[2]}"
        body = self.call(user, "POST", url, expect, {"meaning": meaning, "password": password,
                                                     "username": "coord" if wrong_name == 0 else user})
        if expect.ok:
            assert body["status"] == "valid"
            self.signed.add((p.id, target, meaning))

    @precondition(lambda self: self.patients)
    @rule(pick=st.integers(0, 20), who=WHO, someone=SOMEONE, wrong_password=WRONG)
    def emergency_unblind(self, pick: int, who: str, someone: int, wrong_password: bool) -> None:
        p = self.patient(pick)
        user = chosen(Action.EMERGENCY_UNBLIND, p.site, who, someone)
        password, password_ok = self.password(user, wrong_password)
        kinds: set[str] = set()
        if not can(user, Action.EMERGENCY_UNBLIND):
            expect = Expect(403)
        elif other_site(user, p.site):
            expect = Expect(404)
        else:
            expect = self.reauth(user, password_ok, kinds) or (
                Expect(409, kinds) if p.allocation is None else
                Expect(200, {*kinds, "table:unblindings", "table:notifications"}, "anaphylaxis"))
        body = self.call(user, "POST", f"/patients/{p.id}/emergency-unblind", expect,
                         {"reason": "anaphylaxis", "password": password})
        if expect.ok:
            seen = self.world.client.get(f"{self.base}/patients/{p.id}/allocation",
                                         headers=self.world.headers("unblinded_stat")).json()
            assert (body["arm"], body["kit_code"]) == (seen["arm"], seen["kit_code"])
            assert body["arm"] in ARMS

    @rule(who=WHO, someone=SOMEONE, lock=st.sampled_from([False, False, False, True]), wrong_password=WRONG)
    def database_lock(self, who: str, someone: int, lock: bool, wrong_password: bool) -> None:
        """Lock the database now and then (nothing can be entered while it holds), unlock it mostly soon after."""
        user = chosen(Action.LOCK_DATABASE, "pumch", who, someone)
        password, password_ok = self.password(user, wrong_password)
        kinds: set[str] = set()
        if not can(user, Action.LOCK_DATABASE):
            expect = Expect(403)
        else:
            expect = self.reauth(user, password_ok, kinds) or (
                Expect(409, kinds) if self.db_locked == lock or (lock and self.unresolved()) else
                Expect(200, {*kinds, "table:trials"}, "final analysis" if lock else "late query"))
        body = self.call(user, "POST", "/database-lock" if lock else "/database-unlock", expect,
                         {"reason": "final analysis" if lock else "late query", "password": password})
        if expect.ok:
            self.db_locked = lock
            assert body["status"] == ("locked" if lock else "active")

    # --- off study ------------------------------------------------------------------------------------------------

    @precondition(lambda self: self.patients)
    @rule(pick=st.integers(0, 20), who=WHO, someone=SOMEONE,
          kind=st.sampled_from(["withdrew-consent", "lost-to-follow-up", "investigator-decision"]),
          when=st.sampled_from(["today", "today", "today", "tomorrow", "before-enrolment"]), cancel=st.booleans())
    def off_study(self, pick: int, who: str, someone: int, kind: str, when: str, cancel: bool) -> None:
        p = self.patient(pick)
        user = chosen(Action.ENTER_DATA, p.site, who, someone)
        refused = access(user, Action.ENTER_DATA, p.site)
        if refused:
            expect = Expect(refused)
        elif self.db_locked or p.locked:
            expect = Expect(423)
        elif cancel:
            expect = Expect(200, {"table:off_study"}, "came back") if p.off_study else Expect(404)
        elif when != "today":
            expect = Expect(422)
        elif p.off_study:
            expect = Expect(409)
        else:
            expect = Expect(201, {"table:off_study"}, "left the study")
        if cancel:
            self.call(user, "POST", f"/patients/{p.id}/off-study/cancel", expect, {"reason": "came back"})
        else:
            date = {"today": p.enrolled_on, "tomorrow": self.today(p.site) + dt.timedelta(days=1),
                    "before-enrolment": p.enrolled_on - dt.timedelta(days=1)}[when]
            self.call(user, "POST", f"/patients/{p.id}/off-study", expect,
                      {"kind": kind, "effective_date": date.isoformat(), "reason": "left the study"})
        if expect.ok:
            p.off_study = None if cancel else kind

    # --- what the API reports, and the trail, at the end of each example ------------------------------------------

    def teardown(self) -> None:
        if not self.trial_id:
            return
        client, h = self.world.client, self.world.headers
        report = client.get("/api/audit/verify", headers=h("admin")).json()
        assert report["ok"], report["findings"]
        patients = client.get(f"{self.base}/patients", params={"limit": 1000}, headers=h("monitor")).json()
        assert {p["id"]: (p["status"], p["values"]) for p in patients} == {
            p.id: ("randomized" if p.allocation else "enrolled", p.values) for p in self.patients.values()}
        self.check_allocations()
        replay = client.get(f"{self.base}/replay", headers=h("unblinded_stat")).json()
        assert replay["identical"], replay
        assert replay["allocations"] == sum(1 for p in self.patients.values() if p.allocation)
        queries = client.get(f"{self.base}/queries", headers=h("monitor")).json()
        assert {q["id"]: q["status"] for q in queries} == {qid: q.status for qid, q in self.queries.items()}
        trial = client.get(self.base, headers=h("monitor")).json()
        assert trial["status"] == ("locked" if self.db_locked else "active")
        for p in self.patients.values():
            self.check_patient(p)

    def check_patient(self, p: PatientModel) -> None:
        client, h, url = self.world.client, self.world.headers, f"{self.base}/patients/{p.id}"
        forms = client.get(f"{url}/forms", headers=h("monitor")).json()
        assert {(f["form_id"], f["visit_id"], f["instance"]): (f["status"], f["version"], f["values"], f["locked"])
                for f in forms} == {k[1:]: (f.status, f.version, f.values, f.locked)
                                    for k, f in self.forms.items() if k[0] == p.id}
        signatures = client.get(f"{url}/signatures", headers=h("monitor")).json()
        valid = [("casebook" if s["scope"] == "casebook" else (s["form_id"], s["visit_id"], s["instance"]),
                  s["meaning"]) for s in signatures if s["status"] == "valid"]
        assert sorted(valid, key=str) == sorted(((t, m) for pid, t, m in self.signed if pid == p.id), key=str)
        schedule = client.get(f"{url}/schedule", headers=h("monitor")).json()
        assert schedule["locked"] is p.locked
        assert (schedule["off_study"] or {}).get("kind") == p.off_study


def stopped_clock(world: World) -> AbstractContextManager[None]:
    """The server's clock stopped at the start of the run, so that the model's "today" at each site is the server's
    even if midnight passes at a site during the run (dates of forms and off-study records are checked against it)."""
    return world.at(dt.datetime.now(dt.UTC))


SQLITE_RUNS = settings(max_examples=20, stateful_step_count=50, deadline=None, database=None,
                       suppress_health_check=[HealthCheck.too_slow])
POSTGRES_RUNS = settings(SQLITE_RUNS, max_examples=10)


def test_aud1_random_write_sequences_keep_the_trail_verifiable_and_every_write_audited(
        world: World, run_cli: Callable[..., CliResult]):
    machine = type("Machine", (AuditTrailMachine,), {"world": world})
    with stopped_clock(world):
        run_state_machine_as_test(machine, settings=POSTGRES_RUNS if world.db.dialect == "postgresql" else SQLITE_RUNS)
    # The command itself, on the database the app wrote to, after all the examples.
    verified = run_cli("audit", "verify", "--db", world.db.url, "--json")
    assert (verified.code, json.loads(verified.stdout)["ok"]) == (0, True), verified.stdout


# --- the property would notice: one form value changed behind the application -------------------------------------

@pytest.fixture(scope="module")
def sqlite_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from make_world(f"sqlite:///{tmp_path_factory.mktemp('tamper') / 'equipoise.sqlite3'}")


class TamperingMachine(AuditTrailMachine):
    """The same random writes; at the end one saved form value is changed by raw SQL, which verify must name,
    and put back, after which verify is clean again (so the next example starts from a clean trail)."""

    tampered: ClassVar[list[str]] = []

    def teardown(self) -> None:
        if not self.trial_id:
            return
        super().teardown()
        saved = [(k, f) for k, f in self.forms.items() if f.values]
        if not saved:  # the sequence saved no values: save one form, so there is something to tamper with
            if self.db_locked:
                self.database_lock(who="allowed", someone=0, lock=False, wrong_password=False)
            self.enrol(who="allowed", someone=0, site="pumch", kind="eligible", severity="severe", age=54,
                       key_mode="none", pick=0)
            self.enter_form(pick=len(self.patients) - 1, who="allowed", someone=0, form="clinical", quality="good",
                            n=1, incomplete=False, reason=True, patch=False, instance_mode="next")
            saved = [(k, f) for k, f in self.forms.items() if f.values]
        (pid, form_id, visit_id, instance), record = saved[-1]
        world = self.world
        with world.db.read() as s:
            row = s.execute(text("SELECT id, field_values FROM form_records WHERE patient_id = :p AND form_id = :f "
                                 "AND visit_id = :v AND instance = :i"),
                            {"p": pid, "f": form_id, "v": visit_id, "i": instance}).one()
        name = sorted(record.values)[0]
        changed = {**record.values, name: "tampered"}
        tamper(world, "UPDATE form_records SET field_values = :v WHERE id = :id", v=json.dumps(changed), id=row.id)
        report = verify(world.db)
        assert [(f.table, f.record_id) for f in report.findings] == [("form_records", str(row.id))], str(report)
        assert "field_values" in report.findings[0].message
        tamper(world, "UPDATE form_records SET field_values = :v WHERE id = :id", v=row.field_values, id=row.id)
        assert verify(world.db).ok
        self.tampered.append(f"{form_id}@{visit_id}#{instance}.{name}")


def tamper(world: World, sql: str, **params: object) -> None:
    """A change behind the application's back: SQLite does not refuse it (AUD-2); only verify can find it."""
    with world.db.write_engine.begin() as conn:
        conn.execute(text(sql), params)


def test_aud1_a_form_value_changed_in_the_database_after_random_writes_is_found(sqlite_world: World):
    machine = type("Machine", (TamperingMachine,), {"world": sqlite_world, "tampered": []})
    with stopped_clock(sqlite_world):
        run_state_machine_as_test(machine, settings=settings(SQLITE_RUNS, max_examples=5, stateful_step_count=25))
    assert len(machine.tampered) == 5  # type: ignore[attr-defined]
