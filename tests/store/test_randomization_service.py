"""The randomization service with a controlled clock: amendments by date, arms per site and patient, RAR tables.

RND-5 (arms unavailable at a site or contraindicated: randomize among fewer arms, as RECOVERY did), RND-7
(each allocation records the protocol version in force), RND-13 (response-adaptive tables: published by the
unblinded statistician only, versioned, re-authenticated, recorded with each allocation).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select, update

from equipoise.errors import (
    ConflictError,
    ForbiddenError,
    IdempotencyKeyReusedError,
    InvalidError,
    NotFoundError,
    UnauthorizedError,
)
from equipoise.identity.auth import AuthService
from equipoise.identity.principal import Principal, system_principal
from equipoise.identity.roles import Role
from equipoise.integrity.audit_verify import verify
from equipoise.services.patients import PatientService
from equipoise.services.randomization import RandomizationService
from equipoise.services.replay import replay_trial
from equipoise.services.trials import create_trial
from equipoise.services.unblinding import UnblindingService
from equipoise.services.users import add_user
from equipoise.store.db import Database
from equipoise.store.models import Allocation
from tests.store.support import PASSWORD, PLATFORM

TRIAL = "PANDEMIC-PLATFORM"


class Clock:
    def __init__(self, day: dt.date) -> None:
        self.now = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, day: dt.date) -> None:
        self.now = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


def values(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {"age": 60, "sex": "male", "respiratory_support": "oxygen", "sars_cov_2": True,
                               "long_qt": False, "on_interacting_drug": False, "macrolide_allergy": False,
                               "consent": True}
    return {**base, **changes}


def setup(db: Database, text: str) -> tuple[Principal, Principal]:
    operator = system_principal("test")
    create_trial(db, operator, text, "platform.yaml")
    add_user(db, operator, "coord", "Coordinator", PASSWORD,
             roles=[(Role.COORDINATOR, TRIAL, site) for site in ("oxford", "edinburgh")])
    add_user(db, operator, "stat", "Unblinded statistician", PASSWORD, roles=[(Role.UNBLINDED_STATISTICIAN, TRIAL,
                                                                              None)])
    auth = AuthService(db)
    coord = auth.authenticate(auth.login("coord", PASSWORD).token)
    stat = auth.authenticate(auth.login("stat", PASSWORD).token)
    return coord, stat


def randomize(db: Database, clock: Clock, who: Principal, site: str, key: str, **changes: object) -> Allocation:
    patient = PatientService(db, clock).enrol(who, TRIAL, site, values(**changes))
    view = RandomizationService(db, clock).randomize(who, TRIAL, patient.id, key)
    with db.read() as s:
        return s.get_one(Allocation, view.allocation_id)


def test_rnd7_each_allocation_records_the_protocol_version_in_force_on_its_date(db: Database):
    coord, _ = setup(db, PLATFORM.read_text())
    clock = Clock(dt.date(2020, 4, 1))
    first = randomize(db, clock, coord, "oxford", "a")
    clock.set(dt.date(2020, 5, 1))
    second = randomize(db, clock, coord, "oxford", "b")
    clock.set(dt.date(2020, 7, 1))
    third = randomize(db, clock, coord, "oxford", "c")
    assert [first.protocol_version, second.protocol_version, third.protocol_version] == ["1.0", "2.0", "3.0"]
    assert "azithromycin" not in {a["id"] for a in first.request["all_arms"]}
    assert "azithromycin" in {a["id"] for a in second.request["all_arms"]}
    assert "hydroxychloroquine" not in {a["id"] for a in third.request["all_arms"]}
    assert replay_trial(db, TRIAL).identical
    assert verify(db).ok


def test_rnd5_site_availability_and_contraindications_narrow_the_open_arms(db: Database):
    coord, _ = setup(db, PLATFORM.read_text())
    clock = Clock(dt.date(2020, 4, 1))
    edinburgh = randomize(db, clock, coord, "edinburgh", "e", long_qt=True)
    open_arms = {a["id"] for a in edinburgh.request["arms"]}
    assert open_arms == {"usual_care", "dexamethasone"}  # no lopinavir there; hydroxychloroquine contraindicated
    assert edinburgh.arm in open_arms


def test_rnd5_the_committee_sees_allocations_by_eligible_arm_set(db: Database):
    coord, stat = setup(db, PLATFORM.read_text())
    clock = Clock(dt.date(2020, 4, 1))
    made = [randomize(db, clock, coord, "edinburgh", "a1", long_qt=True),
            randomize(db, clock, coord, "edinburgh", "a2", long_qt=True),
            randomize(db, clock, coord, "oxford", "a3")]
    aggregates = UnblindingService(db, AuthService(db)).aggregates(stat, TRIAL)
    sets = {"+".join(a["id"] for a in m.request["arms"]) for m in made}
    assert set(aggregates["by_arm_set"]) == sets
    assert len(sets) == 2  # Edinburgh without lopinavir and hydroxychloroquine; Oxford with more arms
    edinburgh = "+".join(a["id"] for a in made[0].request["arms"])
    assert sum(aggregates["by_arm_set"][edinburgh].values()) == 2
    assert set(aggregates["by_arm_set"][edinburgh]) <= {"usual_care", "dexamethasone"}
    assert sum(n for counts in aggregates["by_arm_set"].values() for n in counts.values()) == aggregates["total"] == 3
    with pytest.raises(ForbiddenError):
        UnblindingService(db, AuthService(db)).aggregates(coord, TRIAL)


def test_rnd13_adaptive_tables_are_versioned_reauthenticated_and_recorded(db: Database):
    text = PLATFORM.read_text().replace("randomization:\n  method: simple",
                                        "randomization:\n  method: response-adaptive\n  adaptive: {floor: 0.05}")
    coord, stat = setup(db, text)
    clock = Clock(dt.date(2020, 4, 1))
    auth = AuthService(db)
    service = UnblindingService(db, auth, clock)
    table = {"usual_care": 0.4, "dexamethasone": 0.3, "hydroxychloroquine": 0.2, "lopinavir": 0.1}
    with pytest.raises(ForbiddenError):
        service.publish_table(coord, TRIAL, table, "interim 1", PASSWORD)
    with pytest.raises(UnauthorizedError):
        service.publish_table(stat, TRIAL, table, "interim 1", "wrong password")
    with pytest.raises(InvalidError, match="add up to 1"):
        service.publish_table(stat, TRIAL, {**table, "lopinavir": 0.2}, "interim 1", PASSWORD)
    with pytest.raises(InvalidError, match="floor"):
        service.publish_table(stat, TRIAL, {**table, "lopinavir": 0.01, "usual_care": 0.49}, "interim 1", PASSWORD)
    assert service.publish_table(stat, TRIAL, table, "interim 1", PASSWORD)["version"] == 1
    allocation = randomize(db, clock, coord, "oxford", "r1")
    assert allocation.adaptive_table_version == 1
    assert allocation.request["adaptive_probabilities"] == table
    assert [t["version"] for t in service.tables(stat, TRIAL)] == [1]
    with pytest.raises(ForbiddenError):
        service.tables(coord, TRIAL)
    # A table agreed at an interim meeting, published ahead of the day it starts: until then version 1 allocates.
    later = {"usual_care": 0.25, "dexamethasone": 0.55, "hydroxychloroquine": 0.1, "lopinavir": 0.1}
    starts = clock.now + dt.timedelta(days=2)
    with pytest.raises(InvalidError, match="in the past"):
        service.publish_table(stat, TRIAL, later, "interim 2", PASSWORD, clock.now - dt.timedelta(hours=1))
    published = service.publish_table(stat, TRIAL, later, "interim 2", PASSWORD, starts)
    assert published["version"] == 2
    assert published["effective_at"] == starts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert randomize(db, clock, coord, "oxford", "r2").adaptive_table_version == 1
    clock.set(dt.date(2020, 4, 3))
    assert randomize(db, clock, coord, "oxford", "r3").adaptive_table_version == 2
    assert replay_trial(db, TRIAL).identical
    assert verify(db).ok


def test_rnd2_same_key_for_another_patient_is_refused(db: Database):
    coord, _ = setup(db, PLATFORM.read_text())
    clock = Clock(dt.date(2020, 4, 1))
    randomize(db, clock, coord, "oxford", "same")
    other = PatientService(db, clock).enrol(coord, TRIAL, "oxford", values())
    # a different request under a used key: 422 naming what differs (IETF idempotency-key draft), not 409
    with pytest.raises(IdempotencyKeyReusedError, match="patient_id differ"):
        RandomizationService(db, clock).randomize(coord, TRIAL, other.id, "same")


def test_replay_finds_an_allocation_changed_in_the_database(db: Database):
    coord, _ = setup(db, PLATFORM.read_text())
    clock = Clock(dt.date(2020, 4, 1))
    allocation = randomize(db, clock, coord, "oxford", "t")
    other = next(a["id"] for a in allocation.request["arms"] if a["id"] != allocation.arm)
    with db.write_engine.begin() as conn:
        conn.execute(update(Allocation).where(Allocation.id == allocation.id).values(arm=other))
    report = replay_trial(db, TRIAL)
    assert not report.identical
    assert "recomputed arm differs" in str(report)
    assert any(f.table == "allocations" and "arm" in f.message for f in verify(db).findings)
    with db.read() as s:
        assert s.scalars(select(Allocation.arm)).one() == other


NEW_AMENDMENT = """
  - version: "4.0"
    effective_date: {date}
    summary: Add tocilizumab.
    changes:
      - change: add-arm
        arm: {{id: tocilizumab, name: Tocilizumab + usual care, role: experimental, allocation: 1}}
"""


def test_amend_adds_an_amendment_that_applies_from_its_date_and_keeps_the_past(db: Database):
    from equipoise.services.trials import amend_trial

    coord, _ = setup(db, PLATFORM.read_text())
    clock = Clock(dt.date(2020, 7, 1))
    before = randomize(db, clock, coord, "oxford", "before")
    operator = system_principal("test")
    text = PLATFORM.read_text() + NEW_AMENDMENT.format(date="2020-07-10")
    with pytest.raises(ConflictError, match="before today"):
        amend_trial(db, operator, text, "REC approval 123", today=dt.date(2020, 7, 11))
    with pytest.raises(ConflictError, match="earlier amendments"):
        amend_trial(db, operator, text.replace("Add azithromycin.", "Add something."), "x",
                    today=dt.date(2020, 7, 2))
    with pytest.raises(ConflictError, match="only new amendments"):
        amend_trial(db, operator, text.replace("target: {total: 12000}", "target: {total: 100}"), "x",
                    today=dt.date(2020, 7, 2))
    with pytest.raises(InvalidError, match="reason"):
        amend_trial(db, operator, text, " ", today=dt.date(2020, 7, 2))
    view = amend_trial(db, operator, text, "REC approval 123", today=dt.date(2020, 7, 2))
    assert [v["version"] for v in view.versions][-1] == "4.0"
    clock.set(dt.date(2020, 7, 10))
    after = randomize(db, clock, coord, "oxford", "after")
    assert after.protocol_version == "4.0"
    assert "tocilizumab" in {a["id"] for a in after.request["arms"]}
    assert before.protocol_version == "3.0"
    assert replay_trial(db, TRIAL).identical  # the earlier allocation still replays under version 3.0
    assert verify(db).ok


def test_rnd2_an_enrolment_retried_with_its_key_returns_the_same_patient(db: Database):
    coord, _ = setup(db, PLATFORM.read_text())
    service = PatientService(db, Clock(dt.date(2020, 4, 1)))
    first = service.enrol(coord, TRIAL, "oxford", values(), "enrol-1")
    assert service.enrol(coord, TRIAL, "oxford", values(), "enrol-1") == first
    with pytest.raises(InvalidError, match="already used"):
        service.enrol(coord, TRIAL, "edinburgh", values(), "enrol-1")
    other = service.enrol(coord, TRIAL, "oxford", values(), "enrol-2")
    unkeyed = [service.enrol(coord, TRIAL, "oxford", values()) for _ in range(2)]
    assert len({first.id, other.id, *(p.id for p in unkeyed)}) == 4
    with pytest.raises(NotFoundError, match="no trial"):
        service.enrol(system_principal("test"), "NO-SUCH-TRIAL", "oxford", values(), "enrol-1")
    assert verify(db).ok


def test_verify_replays_allocations_an_arm_changed_with_its_audit_entry_and_the_chain_rehashed_fails(db: Database):
    """Issue 14: the arm changed in the row and in its audit entry, and every hash after it recomputed, leaves the
    chain and the records consistent; ``audit verify`` recomputes every allocation too, and that fails, with or
    without the audit key (the finding names the allocation, never an arm)."""
    from equipoise.store.audit import entry_hash, hashed_fields
    from equipoise.store.models import AuditEntry
    from tests.store.test_audit_trail import _tamper

    coord, _ = setup(db, PLATFORM.read_text())
    allocation = randomize(db, Clock(dt.date(2020, 4, 1)), coord, "oxford", "t")
    other = next(a["id"] for a in allocation.request["arms"] if a["id"] != allocation.arm)
    _tamper(db, "UPDATE allocations SET arm = :arm WHERE id = :id", arm=other, id=allocation.id)
    with db.read() as s:
        entries = list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    victim = next(e for e in entries if e.table_name == "allocations" and e.record_id == str(allocation.id))
    previous = victim.prev_hash
    for entry in (e for e in entries if e.id >= victim.id):
        new_values = dict(entry.new_values or {})
        if entry.id == victim.id:
            new_values["arm"] = other
        fields = {**hashed_fields(entry), "prev_hash": previous, "new_values": new_values or entry.new_values}
        previous = entry_hash(previous, fields)
        _tamper(db, "UPDATE audit_log SET prev_hash = :p, hash = :h, new_values = :v WHERE id = :id", p=fields[
            "prev_hash"], h=previous, v=None if fields["new_values"] is None else json.dumps(fields["new_values"]),
            id=entry.id)
    _tamper(db, "UPDATE audit_head SET last_hash = :h WHERE id = 1", h=previous)
    unkeyed = verify(db, without_key=True)
    assert [f.kind for f in unkeyed.findings] == ["allocation"], str(unkeyed)  # chain and records agree
    assert unkeyed.findings[0].record_id == str(allocation.id)
    assert "recomputed arm differs" in str(unkeyed)
    assert other not in str(unkeyed)
    assert allocation.arm not in str(unkeyed)
    assert any(f.kind == "allocation" for f in verify(db).findings)
