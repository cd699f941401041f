"""The audit trail: same-transaction entries, the hash chain, append-only storage, and tamper detection.

AUD requirements: 21 CFR 11.10(e) (who/what/when, changes do not obscure earlier values), ICH E6(R3) §4.2.2
(account and role changes logged, reasons, UTC), and issue 5's tamper tests (change a value, an allocation
or an audit entry directly in the database: ``audit verify`` names it).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from equipoise.identity.principal import system_principal
from equipoise.identity.roles import Role
from equipoise.integrity.audit_verify import chain_contains, verify
from equipoise.services.trials import create_trial_from_file
from equipoise.services.users import add_user, grant_role, revoke_role
from equipoise.store.audit import AuditContext
from equipoise.store.db import Database
from equipoise.store.models import AuditEntry, Patient, User
from tests.store.support import DEMO, PASSWORD, PostgresSchemas, pg_schemas

__all__ = ["pg_schemas"]


def _entries(db: Database) -> list[AuditEntry]:
    with db.read() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def _tamper(db: Database, sql: str, **params: object) -> None:
    """Change the database behind the application's back, as a superuser could (triggers switched off)."""
    with db.write_engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_update")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_delete")
        conn.execute(text(sql), params)


@pytest.fixture
def seeded(db: Database) -> Database:
    return seeded_database(db)


def seeded_database(db: Database) -> Database:
    operator = system_principal("test")
    create_trial_from_file(db, operator, DEMO)
    add_user(db, operator, "alice", "Alice", PASSWORD, roles=[(Role.COORDINATOR, "MSC-COVID-RCT", "pumch")])
    with db.write(AuditContext(actor="alice", actor_id=1, source="10.0.0.1", reason="enrolment")) as s:
        s.add(Patient(trial_id="MSC-COVID-RCT", site_id="pumch", enrolment_values={"age": 50},
                      enrolment_date=dt.date(2026, 1, 2), protocol_version="1.0"))
    return db


def test_aud_every_change_has_who_what_old_new_when_utc_why_where_and_version(seeded: Database):
    with seeded.write(AuditContext(actor="alice", actor_id=1, source="10.0.0.9", reason="typo")) as s:
        patient = s.scalars(select(Patient)).one()
        patient.enrolment_values = {"age": 51}
    last = _entries(seeded)[-1]
    assert last.action == "update"
    assert last.table_name == "patients"
    assert last.old_values == {"enrolment_values": {"age": 50}}
    assert last.new_values == {"enrolment_values": {"age": 51}}
    assert (last.actor, last.reason, last.source, last.protocol_version) == ("alice", "typo", "10.0.0.9", "1.0")
    assert last.at.endswith("Z")  # UTC, unambiguous (E6(R3) §4.2.2)
    assert verify(seeded).ok


def test_aud1_entries_name_the_actor_and_the_version_that_wrote_them(seeded: Database):
    """The printed name (as a signature shows it) and the Equipoise version are part of each new entry and of its
    hash: changing either in the database breaks the chain."""
    from equipoise import __version__

    context = AuditContext(actor="alice", actor_id=1, source="10.0.0.9", reason="typo", actor_name="Alice Liddell")
    with seeded.write(context) as s:
        s.scalars(select(Patient)).one().enrolment_values = {"age": 52}
    last = _entries(seeded)[-1]
    assert (last.actor, last.actor_name, last.app_version) == ("alice", "Alice Liddell", __version__)
    assert verify(seeded).ok
    _tamper(seeded, "UPDATE audit_log SET app_version = '0.0.1' WHERE id = :id", id=last.id)
    report = verify(seeded)
    assert report.first_bad_entry == last.id
    assert "does not match its hash" in str(report)


def test_aud_change_and_entry_roll_back_together(seeded: Database):
    before = len(_entries(seeded))
    def change_then_fail() -> None:
        with seeded.write() as s:
            s.scalars(select(Patient)).one().site_id = "milan-sacco"
            s.flush()
            raise RuntimeError("failure after the change")

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert len(_entries(seeded)) == before
    with seeded.read() as s:
        assert s.scalars(select(Patient)).one().site_id == "pumch"


def test_aud_role_changes_and_account_creation_are_audited_password_hash_digested(seeded: Database):
    operator = system_principal("test")
    view = grant_role(seeded, operator, "alice", Role.INVESTIGATOR, "MSC-COVID-RCT", "pumch", "promoted")
    revoke_role(seeded, operator, view.roles[-1].id, "left the trial")
    entries = [e for e in _entries(seeded) if e.table_name == "memberships"]
    assert [e.action for e in entries][-2:] == ["insert", "update"]
    assert entries[-1].new_values == {"active": False}
    assert entries[-1].reason == "left the trial"
    user_insert = next(e for e in _entries(seeded) if e.table_name == "users")
    assert user_insert.new_values is not None
    assert str(user_insert.new_values["password_hash"]).startswith("sha256:")  # never the argon2 hash itself
    assert verify(seeded).ok


def test_aud_bulk_update_of_audited_table_is_refused(seeded: Database):
    from sqlalchemy import update

    with pytest.raises(RuntimeError, match="bulk update"), seeded.write() as s:
        s.execute(update(Patient).values(site_id="x"))


def test_aud_audit_log_refuses_update_and_delete_in_the_database(seeded: Database):
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), seeded.write_engine.begin() as conn:
            conn.exec_driver_sql(statement)
    assert verify(seeded).ok


def test_tamper_a_value_changed_in_the_database_is_found(seeded: Database):
    _tamper(seeded, "UPDATE patients SET site_id = 'milan-sacco'")
    report = verify(seeded)
    assert not report.ok
    [finding] = report.findings
    assert finding.table == "patients"
    assert "site_id" in finding.message


def test_tamper_a_row_inserted_around_the_trail_is_found(seeded: Database):
    _tamper(seeded, "INSERT INTO patients (trial_id, site_id, enrolment_values, enrolment_date, protocol_version, "
            "status, enrolled_at) VALUES ('MSC-COVID-RCT', 'pumch', '{}', '2026-01-02', '1.0', 'enrolled', "
            "'2026-01-02 00:00:00')")
    report = verify(seeded)
    assert any("no audit history" in f.message for f in report.findings)


def test_tamper_an_audit_entry_changed_is_named_as_first_bad_entry(seeded: Database):
    target = _entries(seeded)[2].id
    _tamper(seeded, "UPDATE audit_log SET reason = 'nothing to see' WHERE id = :id", id=target)
    report = verify(seeded)
    assert report.first_bad_entry == target
    assert "does not match its hash" in str(report)


def test_tamper_an_audit_entry_deleted_is_found(seeded: Database):
    entries = _entries(seeded)
    _tamper(seeded, "DELETE FROM audit_log WHERE id = :id", id=entries[1].id)
    report = verify(seeded)
    assert report.first_bad_entry == entries[2].id
    _tamper(seeded, f"DELETE FROM audit_log WHERE id = {entries[-1].id}")
    assert any(f.table == "audit_head" for f in verify(seeded).findings)


def test_tamper_an_audit_entry_rehashed_still_breaks_the_next_link(seeded: Database):
    """Rewriting an entry and its own hash is not enough: the next entry carries the old hash."""
    from equipoise.store.audit import entry_hash, hashed_fields

    entries = _entries(seeded)
    victim = entries[1]
    fields = hashed_fields(victim)
    fields["reason"] = "forged"
    forged = entry_hash(victim.prev_hash, fields)
    _tamper(seeded, "UPDATE audit_log SET reason = 'forged', hash = :h WHERE id = :id", h=forged, id=victim.id)
    assert verify(seeded, without_key=True).first_bad_entry == entries[2].id
    # With the audit key the rehashed entry itself is named: its MAC no longer matches its hash (issue 14).
    assert verify(seeded).first_bad_entry == victim.id


def test_user_row_changed_directly_is_found(seeded: Database):
    _tamper(seeded, "UPDATE users SET password_hash = 'x' WHERE username = 'alice'")
    [finding] = verify(seeded).findings
    assert finding.table == "users"
    assert "password_hash" in finding.message
    with seeded.read() as s:
        assert s.scalar(select(User.username)) == "alice"


@pytest.mark.postgres
def test_aud2_postgresql_refuses_writes_that_do_not_come_from_equipoise(pg_schemas: PostgresSchemas):
    """A write from another connection (psql, a script) would change data with no audit entry: on PostgreSQL
    every table refuses it (migration 0015); Equipoise's own connections write as before. On SQLite, see
    test_aud2_sqlite_refuses_writes_that_do_not_come_from_equipoise; a change made around either guard is found
    afterwards by ``audit verify`` (test_tamper_a_value_changed_in_the_database_is_found).
    """
    import psycopg

    from equipoise.store.migrate import upgrade
    from equipoise.store.schema import sorted_tables
    from tests.store.support import plain_pg_url

    database = Database(pg_schemas.new())
    upgrade(database)
    seeded = seeded_database(database)
    with psycopg.connect(plain_pg_url(seeded.url), autocommit=True) as conn:
        for statement in ("UPDATE patients SET site_id = 'milan-sacco'",
                          "DELETE FROM form_records",
                          "INSERT INTO audit_head (id, last_id, last_hash) VALUES (2, 0, 'x')"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege,
                               match="refused: only Equipoise writes its tables"):
                conn.execute(statement)
        guarded = {row[0] for row in conn.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname LIKE '%_writer_only' AND c.relnamespace = current_schema()::regnamespace")}
    assert {t.name for t in sorted_tables()} - guarded == set()  # a new table needs its trigger
    with seeded.write(AuditContext(actor="alice", actor_id=1, reason="typo")) as s:
        s.scalars(select(Patient)).one().enrolment_values = {"age": 53}
    assert verify(seeded).ok
    database.dispose()


def test_aud2_sqlite_refuses_writes_that_do_not_come_from_equipoise(tmp_path: Path):
    """The same guard on SQLite (migration 0017): another program's connection (the sqlite3 shell, a script) may
    read, but each of its writes fails on the tables' triggers, which call a function only Equipoise's connections
    have; Equipoise's own writes go through, audited."""
    import sqlite3

    from equipoise.store.migrate import upgrade
    from equipoise.store.schema import sorted_tables

    path = tmp_path / "guarded.sqlite3"
    database = Database(f"sqlite:///{path}")
    upgrade(database)
    seeded = seeded_database(database)
    other = sqlite3.connect(path)
    try:
        assert other.execute("SELECT count(*) FROM patients").fetchone() == (1,)
        for statement in ("UPDATE patients SET site_id = 'milan-sacco'",
                          "DELETE FROM form_records",
                          "INSERT INTO audit_head (id, last_id, last_hash) VALUES (2, 0, 'x')"):
            with pytest.raises(sqlite3.OperationalError, match="no such function: only_equipoise_writes_these_tables"):
                other.execute(statement)
        other.rollback()
        triggers = {row[0] for row in other.execute("SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' "
                                                    "AND name LIKE '%_writer_only_%'")}
        counts = other.execute("SELECT tbl_name, count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE "
                               "'%_writer_only_%' GROUP BY tbl_name").fetchall()
    finally:
        other.close()
    assert {t.name for t in sorted_tables()} - triggers == set()  # a new table needs its triggers
    assert {n for _table, n in counts} == {3}  # insert, update and delete
    with seeded.write(AuditContext(actor="alice", actor_id=1, reason="typo")) as s:
        s.scalars(select(Patient)).one().enrolment_values = {"age": 53}
    with seeded.read() as s:
        assert s.scalars(select(Patient)).one().enrolment_values == {"age": 53}
    assert verify(seeded).ok
    database.dispose()


def test_aud3_an_exports_head_hash_catches_a_chain_rewritten_with_every_hash_recomputed(seeded: Database):
    """Someone who can bypass the triggers can change an entry and recompute every hash after it: the chain then
    verifies on its own. The head hash that an export recorded (its manifest's ``audit_head``, a copy outside the
    database) is no longer in the chain, and ``audit verify --expect-head`` says so."""
    from equipoise.exports.service import ExportService
    from equipoise.store.audit import entry_hash, hashed_fields
    from equipoise.store.models import AuditHead

    operator = system_principal("test")
    manifest = ExportService(seeded).export(operator, "MSC-COVID-RCT", fmt="csv").manifest
    anchor = manifest["audit_head"]
    with seeded.read() as s:
        head = s.get(AuditHead, 1)
        assert head is not None
        assert anchor["hash"] == s.scalar(select(AuditEntry.hash).where(AuditEntry.id == anchor["entry_id"]))
    assert chain_contains(seeded, anchor["hash"])
    # The rewrite: the first entry's reason changed, then every hash after it recomputed, and the head moved.
    with seeded.read() as s:
        entries = list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    previous = entries[0].prev_hash
    rewritten: list[tuple[int, str, str]] = []
    for i, entry in enumerate(entries):
        fields = hashed_fields(entry)
        if i == 0:
            fields["reason"] = "nothing to see"
        fields["prev_hash"] = previous
        previous = entry_hash(previous, fields)
        rewritten.append((entry.id, fields["prev_hash"], previous))
    for entry_id, prev_hash, new_hash in rewritten:
        _tamper(seeded, "UPDATE audit_log SET prev_hash = :p, hash = :h, reason = CASE WHEN id = :first "
                "THEN 'nothing to see' ELSE reason END WHERE id = :id", p=prev_hash, h=new_hash,
                first=entries[0].id, id=entry_id)
    _tamper(seeded, "UPDATE audit_head SET last_hash = :h WHERE id = 1", h=previous)
    assert verify(seeded, without_key=True).ok  # the unkeyed chain alone cannot tell
    assert not verify(seeded).ok  # the audit key can (issue 14): every rewritten entry's MAC is wrong
    assert not chain_contains(seeded, anchor["hash"])  # the export's witness can
    from equipoise.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["audit", "verify", "--db", seeded.url, "--expect-head", anchor["hash"]])
    assert exit_info.value.code == 1


def test_aud1_entries_name_the_site_and_it_is_hashed(seeded: Database):
    """A patient's entries name its site, whichever table they are of (here a row found by its patient id); the site
    is part of the entry's hash, so moving an entry to another site in the database breaks the chain."""
    from equipoise.store.crf_models import PatientLock

    with seeded.write(AuditContext(actor="alice", actor_id=1, reason="check")) as s:
        patient = s.scalars(select(Patient)).one()
        s.add(PatientLock(trial_id=patient.trial_id, patient_id=patient.id, locked_by=1))
    entries = _entries(seeded)
    assert [e.site_id for e in entries if e.table_name in ("patients", "patient_locks")] == ["pumch", "pumch"]
    assert {e.site_id for e in entries if e.table_name in ("trials", "users")} == {None}
    assert verify(seeded).ok
    last = entries[-1]
    _tamper(seeded, "UPDATE audit_log SET site_id = 'milan-sacco' WHERE id = :id", id=last.id)
    assert verify(seeded).first_bad_entry == last.id


def test_verify_reads_rows_and_histories_a_batch_at_a_time_with_the_same_report(seeded: Database,
                                                                                  monkeypatch: pytest.MonkeyPatch):
    """issue 18: verify holds a batch of rows and their histories, not the whole trial; the report (findings and
    their order) is the one a single pass over everything gave."""
    with seeded.write(AuditContext(actor="alice", actor_id=1, reason="enrolment")) as s:
        s.add_all([Patient(trial_id="MSC-COVID-RCT", site_id="pumch", enrolment_values={"age": 50 + i},
                           enrolment_date=dt.date(2026, 1, 3), protocol_version="1.0") for i in range(6)])
    with seeded.read() as s:
        ids = list(s.scalars(select(Patient.id).order_by(Patient.id)))
    _tamper(seeded, "DELETE FROM patients WHERE id IN (:a, :b)", a=ids[1], b=ids[4])
    _tamper(seeded, "UPDATE patients SET site_id = 'milan-sacco' WHERE id IN (:a, :b)", a=ids[2], b=ids[5])
    _tamper(seeded, "INSERT INTO patients (trial_id, site_id, enrolment_values, enrolment_date, protocol_version, "
            "status, enrolled_at) VALUES ('MSC-COVID-RCT', 'pumch', '{}', '2026-01-02', '1.0', 'enrolled', "
            "'2026-01-02 00:00:00')")
    whole = verify(seeded)
    assert [(f.kind, f.table, f.record_id, f.message.split(" (")[0]) for f in whole.findings] == [
        ("record", "patients", str(ids[2]), "differs from the replay of its history in site_id"),
        ("record", "patients", str(ids[5]), "differs from the replay of its history in site_id"),
        ("record", "patients", str(ids[-1] + 1), "exists in the database but has no audit history"),
        ("record", "patients", str(ids[1]), "was deleted without an audit entry"),
        ("record", "patients", str(ids[4]), "was deleted without an audit entry")]
    monkeypatch.setattr("equipoise.integrity.audit_verify.BATCH", 2)
    assert verify(seeded).to_dict() == whole.to_dict()
    assert str(verify(seeded)) == str(whole)
