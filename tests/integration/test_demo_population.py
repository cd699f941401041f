"""`equipoise demo` fills the demo trial with virtual patients through the store's services: what it wrote, that
the forms agree with each other and with the natural history, that it is idempotent and reproducible, and that
the audit trail and the allocations verify afterwards."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from equipoise.exports import ExportService
from equipoise.identity.principal import system_principal
from equipoise.store.crf_models import FormQuery, FormRecord, Signature
from equipoise.store.db import Database
from equipoise.store.models import Allocation, AuditEntry, Notification, Patient, Unblinding
from tests.integration.conftest import AS_OF, PATIENTS, TRIAL, Demo, cli, demo


def rows(files: dict[str, bytes], name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files[name].decode())))


def export(url: str, unblinded: bool = True) -> dict[str, bytes]:
    database = Database(url)
    try:
        return ExportService(database).export(system_principal("test"), TRIAL, fmt="csv", unblinded=unblinded).files
    finally:
        database.dispose()


def test_demo_enrols_refuses_randomizes_and_follows_patients_through_the_services(populated: Demo):
    database = Database(populated.url)
    with database.read() as s:
        patients = s.scalars(select(Patient).where(Patient.trial_id == TRIAL)).all()
        allocations = s.scalars(select(Allocation)).all()
        refused = s.scalars(select(AuditEntry).where(AuditEntry.action == "enrolment.refused")).all()
        actors = {e.actor for e in s.scalars(select(AuditEntry).where(AuditEntry.table_name == "patients"))}
        statuses = Counter(s.scalars(select(FormRecord.status)).all())
        queries = Counter(s.scalars(select(FormQuery.status)).all())
        locked = s.scalar(select(func.count()).select_from(FormRecord).where(FormRecord.locked_at.is_not(None)))
        signatures = s.scalars(select(Signature)).all()
        unblindings = s.scalars(select(Unblinding)).all()
        notices = s.scalars(select(Notification).where(Notification.kind == "emergency-unblinding")).all()
    database.dispose()
    assert len(patients) == len(allocations) == PATIENTS
    assert {p.status for p in patients} == {"randomized"}
    # four sites over the months before --as-of, each patient randomized on the day of enrolment
    assert {p.site_id for p in patients} == {"pumch", "wuhan-jinyintan", "milan-sacco", "nyc-presbyterian"}
    assert max(a.allocation_date for a in allocations).isoformat() <= AS_OF
    assert all(a.allocation_date == p.enrolment_date for a in allocations for p in patients if p.id == a.patient_id)
    # ineligible patients were refused by the server, with the criteria they failed, and not enrolled
    assert refused
    assert all(e.new_values and (e.new_values["failed"] or e.new_values["missing"]) for e in refused)
    assert f"{len(refused)} of {PATIENTS + len(refused)} screened refused" in populated.first.stdout
    # the history ends with forms overdue and says whether the first interim look is due (60 patients: not yet)
    assert re.search(r"; [1-9]\d* forms overdue today;", populated.first.stdout)
    assert re.search(r"\d+ day-28 outcomes: the first interim look \(at 208\) is not due yet", populated.first.stdout)
    # the site coordinators enrolled (they logged in); the minimization engine allocated
    assert actors == {"coordinator", "wuhan", "milan", "nyc"}
    assert {a.method for a in allocations} == {"minimization"}
    assert Counter(a.arm for a in allocations).keys() == {"msc", "placebo"}
    # forms for the visits that came due, some not done; queries in every state; one lock, signature, unblinding
    assert statuses["complete"] > 8 * PATIENTS
    assert statuses["not-done"] > 0
    assert statuses["incomplete"] == 0
    assert set(queries) == {"open", "answered", "closed"}
    assert locked == 1
    assert [(g.scope, g.meaning, g.status, g.username) for g in signatures] == [
        ("casebook", "approval", "valid", "investigator")]
    assert len(unblindings) == len(notices) == 1
    assert unblindings[0].kind == "emergency"


def test_forms_agree_with_each_other_and_with_the_allocation(populated: Demo):
    files = export(populated.url)
    analysis = rows(files, "analysis.csv")
    kits = {r["patient_id"]: r["kit_code"] for r in rows(files, "allocations.csv")}
    for r in analysis:
        if r["death_day28"] and r["who_day28"]:
            assert (r["who_day28"] == "10") == (r["death_day28"] == "1"), r  # death is level 10 at day 28
        if r["death_day28"]:
            assert bool(r["death_date"]) == (r["death_day28"] == "1"), r
            assert r["time_to_discharge_status"] in {"0", "1", "2"}
            if r["discharge_date"]:
                assert r["time_to_discharge_status"] == "1"
                assert not r["death_date"]
        else:
            assert r["time_to_discharge_time"] == r["time_to_discharge_status"] == "", r  # not followed yet: missing
        levels = [r[f"who_day{d}"] for d in (0, 3, 7, 14, 28)]
        seen = [int(v) for v in levels if v]
        assert all(b == 10 for a, b in itertools.pairwise(seen) if a == 10), r  # death is absorbing
    infusions = [r for r in rows(files, "form_infusion.csv") if r["status"] == "complete"]
    assert infusions
    assert all(r["kit_code"] == kits[r["patient_id"]] for r in infusions)
    sae = [r for r in rows(files, "form_adverse_event.csv") if r["status"] == "complete"]
    assert sae
    assert all(1 <= int(r["severity_grade"]) <= 5 and r["description"] for r in sae)
    assert any(r["resolved_date"] and r["version"] == "2" for r in sae)  # resolution added later with a reason
    # "any serious adverse event since the last visit?" answers for the log: a yes where it has events, and the
    # log is never marked not done for want of an event (353 such records before the question existed)
    answers = {(r["patient_id"], r["visit"]): r["any_sae"] for r in rows(files, "form_sae_check.csv")}
    assert all(answers.get((r["patient_id"], r["visit"])) == "true" for r in sae)
    assert list(answers.values()).count("false") > 10 * len(sae)
    assert not [r for r in rows(files, "form_adverse_event.csv") if r["status"] == "not-done"]
    # the patients who died are off study from the date of death, their day-28 outcome still entered
    off = {r["patient_id"]: r for r in rows(files, "off_study.csv")}
    dead = [r for r in analysis if r["death_date"]]
    assert dead
    assert all(off[r["patient_id"]]["kind"] == "died" and off[r["patient_id"]]["effective_date"] == r["death_date"]
               for r in dead)
    screening = rows(files, "screening_log.csv")
    assert screening
    assert all(r["reason"] and r["screened_on"] <= AS_OF for r in screening)
    assert {r["site"] for r in screening} <= {"pumch", "wuhan-jinyintan", "milan-sacco", "nyc-presbyterian"}


def test_audit_trail_and_allocations_verify_after_the_population(populated: Demo):
    verified = cli("audit", "verify", "--db", populated.url)
    assert verified.code == 0, verified.stdout + verified.stderr
    assert "chain intact" in verified.stdout
    replayed = cli("allocation", "replay", "--db", populated.url)
    assert replayed.code == 0, replayed.stdout + replayed.stderr
    assert f"replayed {PATIENTS} allocations" in replayed.stdout
    assert "every allocation identical" in replayed.stdout


def test_make_run_demo_twice_in_a_row_adds_nothing(populated: Demo, tmp_path: Path):
    url = populated.copy(tmp_path / "again")
    before = export(url)["analysis.csv"]
    again = demo(tmp_path / "again")
    assert again.code == 0, again.stderr
    assert "already has patients; nothing added" in again.stdout
    # the users exist: their password was printed once, when they were made
    assert "their password was printed when the demo created them" in again.stdout
    assert "equipoise-demo" not in again.stdout.replace(".equipoise-demo", "")
    assert export(url)["analysis.csv"] == before
    assert cli("audit", "verify", "--db", url).code == 0


def test_the_population_is_reproducible_from_its_seed(populated: Demo, effective: Demo):
    """Same seed and date, another database and a treatment effect: the same people, screened on the same days
    with the same values and refused for the same reasons (only the server's random allocations, and the
    outcomes that depend on them, differ)."""
    a, b = export(populated.url), export(effective.url)
    for name in ("patients.csv", "screening_log.csv"):
        assert rows(a, name) == rows(b, name), name
    assert [r["randomised_on"] for r in rows(a, "allocations.csv")] == \
           [r["randomised_on"] for r in rows(b, "allocations.csv")]
