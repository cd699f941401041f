"""SEC-1: a backup of the demo trial restores, on SQLite and on PostgreSQL, to the same records, an audit trail
that verifies and allocations that replay; a damaged backup, or a database that holds data, is refused with
nothing written."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest

from equipoise.errors import UserError
from equipoise.identity.auth import AuthService
from equipoise.identity.principal import system_principal
from equipoise.identity.roles import Role
from equipoise.integrity.backup import check_backup, create_backup, restore_backup
from equipoise.services.enrol_randomize import EnrolAndRandomizeService
from equipoise.services.patients import PatientService
from equipoise.services.randomization import RandomizationService
from equipoise.services.users import add_user
from equipoise.store.db import Database
from equipoise.store.migrate import head_revision
from tests.integration.conftest import TRIAL, Demo, cli
from tests.server.conftest import eligible
from tests.store.support import PostgresSchemas, pg_schemas

OLD_BACKUP = Path(__file__).parents[1] / "data" / "schema-0010-demo.eqbackup"

__all__ = ["pg_schemas"]

CHANGED_BY_THE_RESTORE = {"audit_log", "audit_head"}  # the restore appends its own audit event


def _tables(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {n.removeprefix("tables/").removesuffix(".jsonl"): archive.read(n) for n in archive.namelist()
                if n.startswith("tables/")}


def _assert_same_records(original: Path, again: Path) -> None:
    """Every table equal row for row; the audit trail equal up to the restore's own event, appended at its end."""
    first, second = _tables(original), _tables(again)
    assert set(first) == set(second)
    for name in set(first) - CHANGED_BY_THE_RESTORE:
        assert first[name] == second[name], f"{name} differs after the round trip"
    old_log, new_log = first["audit_log"].splitlines(), second["audit_log"].splitlines()
    assert new_log[:len(old_log)] == old_log
    assert [json.loads(line)["action"] for line in new_log[len(old_log):]] == ["backup.restored"]


def _demo_backup(populated: Demo, tmp_path: Path) -> Path:
    """A backup of a copy of the session's demo database."""
    backup = tmp_path / "demo.eqbackup"
    source = Database(populated.copy(tmp_path / "source"))
    create_backup(source, backup)
    source.dispose()
    return backup


def _rewritten(backup: Path, target: Path, files: dict[str, bytes], manifest: dict[str, Any] | None = None) -> Path:
    """A copy of ``backup`` with some member files replaced (and, if given, another manifest)."""
    with zipfile.ZipFile(backup) as original, zipfile.ZipFile(target, "w") as copy:
        for name in original.namelist():
            if name == "manifest.json" and manifest is not None:
                copy.writestr(name, json.dumps(manifest))
            else:
                copy.writestr(name, files.get(name, original.read(name)))
    return target


def test_backup_restores_the_demo_trial_on_sqlite(populated: Demo, tmp_path: Path):
    source = Database(populated.copy(tmp_path / "source"))
    backup = tmp_path / "demo.eqbackup"
    manifest = create_backup(source, backup)
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600  # it holds password hashes and allocation secrets
    assert manifest.tables["patients"].rows > 0
    assert manifest.tables["form_records"].rows > 0
    assert check_backup(backup) == manifest
    target = Database(f"sqlite:///{tmp_path / 'restored.sqlite3'}")
    report = restore_backup(target, backup)
    assert report.ok, (str(report.verify), report.problems)
    assert report.trials_replayed == 1
    again = tmp_path / "again.eqbackup"
    create_backup(target, again)
    _assert_same_records(backup, again)
    # Making the backup is itself audited, after the snapshot (so the backup does not hold its own event).
    assert cli("audit", "verify", "--db", source.url).code == 0
    source.dispose()
    target.dispose()


@pytest.mark.postgres
def test_sqlite_backup_moves_to_postgresql_and_back(populated: Demo, pg_schemas: PostgresSchemas, tmp_path: Path):
    """A site that started on the embedded SQLite file moves to PostgreSQL: same records, trail and allocations;
    the restored PostgreSQL database goes on working (its id sequences are past the restored rows)."""
    backup = tmp_path / "demo.eqbackup"
    source = Database(populated.copy(tmp_path / "source"))
    create_backup(source, backup)
    source.dispose()
    url = pg_schemas.new()
    restored = cli("backup", "restore", backup, "--db", url)
    assert restored.code == 0, restored.stdout + restored.stderr
    assert "audit trail verified" in restored.stdout
    assert "allocations replayed in 1 trial(s)" in restored.stdout
    back = tmp_path / "from-postgres.eqbackup"
    assert cli("backup", "create", back, "--db", url).code == 0
    target = f"sqlite:///{tmp_path / 'back.sqlite3'}"
    assert cli("backup", "restore", back, "--db", target).code == 0
    again = tmp_path / "again.eqbackup"
    assert cli("backup", "create", again, "--db", target).code == 0
    # SQLite -> PostgreSQL -> SQLite: every record as it was (two restores, so two restore events).
    first, last = _tables(backup), _tables(again)
    for name in set(first) - CHANGED_BY_THE_RESTORE:
        assert first[name] == last[name], f"{name} differs after SQLite -> PostgreSQL -> SQLite"
    # New work on the restored PostgreSQL database: an enrolment and a randomization get fresh ids.
    database = Database(url)
    add_user(database, system_principal("test"), "newcoord", "New Coordinator", "a long enough password",
             roles=[(Role.COORDINATOR, TRIAL, "pumch")])
    principal = AuthService(database).authenticate(AuthService(database).login("newcoord",
                                                                                "a long enough password").token)
    patients = PatientService(database)
    service = EnrolAndRandomizeService(database, patients, RandomizationService(database))
    result = service.run(principal, TRIAL, "pumch", eligible(), "after-restore")
    assert result.patient.id > max(json.loads(line)["id"] for line in first["patients"].splitlines())
    database.dispose()
    assert cli("audit", "verify", "--db", url).code == 0
    assert "every allocation identical" in cli("allocation", "replay", "--db", url).stdout


def test_damaged_backup_is_refused_before_anything_is_written(populated: Demo, tmp_path: Path):
    backup = _demo_backup(populated, tmp_path)
    with zipfile.ZipFile(backup) as archive:
        allocations = archive.read("tables/allocations.jsonl")
    # one arm changed, as a tamperer would
    damaged = _rewritten(backup, tmp_path / "damaged.eqbackup", {
        "tables/allocations.jsonl": allocations.replace(b'"arm": "placebo"', b'"arm": "msc"', 1)})
    with pytest.raises(UserError, match=r"tables/allocations\.jsonl is damaged"):
        check_backup(damaged)
    target_url = f"sqlite:///{tmp_path / 'target.sqlite3'}"
    refused = cli("backup", "restore", damaged, "--db", target_url)
    assert refused.code != 0
    assert "allocations.jsonl is damaged" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert cli("backup", "check", damaged, "--quick").code != 0
    # Nothing was written: the target can still take the good backup.
    assert cli("backup", "restore", backup, "--db", target_url).code == 0


def test_restore_into_a_database_with_data_is_refused(populated: Demo, tmp_path: Path):
    backup = tmp_path / "demo.eqbackup"
    url = populated.copy(tmp_path / "source")
    assert cli("backup", "create", backup, "--db", url).code == 0
    refused = cli("backup", "restore", backup, "--db", url)
    assert refused.code != 0
    assert "already holds data" in refused.stderr
    # A backup never overwrites a file.
    again = cli("backup", "create", backup, "--db", url)
    assert again.code != 0
    assert "exists already" in again.stderr


def test_not_a_backup_is_named_clearly(tmp_path: Path):
    text = tmp_path / "notes.txt"
    text.write_text("not a zip")
    result = cli("backup", "check", text)
    assert result.code != 0
    assert "not an Equipoise backup" in result.stderr
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "no manifest.json" in cli("backup", "check", other).stderr
    assert "no such file" in cli("backup", "check", tmp_path / "missing.eqbackup").stderr


def test_backup_check_runs_a_restore_drill(populated: Demo, tmp_path: Path):
    backup = tmp_path / "demo.eqbackup"
    assert cli("backup", "create", backup, "--db", populated.copy(tmp_path / "source")).code == 0
    drill = cli("backup", "check", backup, "--json")
    assert drill.code == 0, drill.stderr
    report = json.loads(drill.stdout)
    assert report["ok"] is True
    assert report["verify"]["ok"] is True
    assert report["trials_replayed"] == 1
    assert report["rows"] > 500


def test_a_backup_from_an_unknown_schema_is_refused(populated: Demo, tmp_path: Path):
    backup = _demo_backup(populated, tmp_path)
    with zipfile.ZipFile(backup) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    newer = _rewritten(backup, tmp_path / "newer.eqbackup", {},
                       {**manifest, "schema_revision": "9999_from_the_future"})
    refused = cli("backup", "restore", newer, "--db", f"sqlite:///{tmp_path / 'target.sqlite3'}")
    assert refused.code != 0
    assert "does not know" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_backup_from_an_older_schema_restores_and_is_upgraded(tmp_path: Path, database: str,
                                                                 request: pytest.FixtureRequest):
    """A backup that an earlier Equipoise made of its demo trial (schema 0010, commit 2363ebb: before form record
    numbers, further randomizations and the audit entries' names and versions) restores into a new database:
    the rows go in at 0010, then the schema is upgraded, the trail still verifies and every allocation replays.
    (Relabelling a new backup as old no longer works: new audit entries hash columns an old schema lacks.)"""
    url = (request.getfixturevalue("pg_schemas").new() if database == "postgres"
           else f"sqlite:///{tmp_path / 'target.sqlite3'}")
    target = Database(url)
    report = restore_backup(target, OLD_BACKUP)
    assert report.manifest.schema_revision == "0010_two_factor"
    assert report.ok, (str(report.verify), report.problems)
    assert report.trials_replayed == 1
    assert report.schema_revision == head_revision()
    target.dispose()


def test_an_encrypted_backup_needs_its_passphrase_and_refuses_any_change(populated: Demo, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch):
    """SEC-1: `backup create --encrypt` seals the file (AES-256-GCM, scrypt); check and restore need the
    passphrase, and a wrong one or a changed byte is refused before anything is written."""
    from equipoise.integrity.backup_crypto import MAGIC, PASSPHRASE_ENV

    backup = tmp_path / "sealed.eqbackup"
    source = populated.copy(tmp_path / "source")
    monkeypatch.setenv(PASSPHRASE_ENV, "correct horse battery staple")
    made = cli("backup", "create", backup, "--db", source, "--encrypt")
    assert made.code == 0, made.stderr
    content = backup.read_bytes()
    assert content.startswith(MAGIC)
    assert b"manifest.json" not in content  # not even the zip's member names are readable
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    drill = cli("backup", "check", backup, "--json")
    assert drill.code == 0, drill.stderr
    assert json.loads(drill.stdout)["ok"] is True
    target = f"sqlite:///{tmp_path / 'target.sqlite3'}"
    monkeypatch.setenv(PASSPHRASE_ENV, "a wrong passphrase, long enough")
    wrong = cli("backup", "restore", backup, "--db", target)
    assert wrong.code != 0
    assert "does not decrypt: a wrong passphrase, or the file was changed" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    monkeypatch.setenv(PASSPHRASE_ENV, "correct horse battery staple")
    changed = tmp_path / "changed.eqbackup"
    flipped = bytearray(content)
    flipped[len(content) // 2] ^= 1
    changed.write_bytes(bytes(flipped))
    assert "does not decrypt" in cli("backup", "check", changed).stderr
    monkeypatch.delenv(PASSPHRASE_ENV)
    assert "is encrypted: give its passphrase" in str(_refusal(lambda: restore_backup(Database(target), backup)))
    restored = restore_backup(Database(target), backup, passphrase="correct horse battery staple")
    assert restored.ok, (str(restored.verify), restored.problems)
    assert "at least 12 characters" in str(_refusal(lambda: create_backup(Database(source), tmp_path / "weak",
                                                                           passphrase="short")))


def _refusal(action: Any) -> UserError:
    with pytest.raises(UserError) as refused:
        action()
    return refused.value
