"""The keyed audit chain (issue 14): forgery by someone who can write the database but not read the key file.

Each entry carries an HMAC-SHA256 of its hash under the server's audit key, and the key's id; the head carries one
of itself. The unkeyed SHA-256 chain is still checked without the key, and the report says that is all it checked.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from equipoise.exports.service import ExportService
from equipoise.identity.principal import system_principal
from equipoise.integrity.audit_verify import verify
from equipoise.store.audit import AuditContext, entry_hash, hashed_fields
from equipoise.store.audit_keys import AuditKeys, keys_for_writing, load_keys, rotate_key
from equipoise.store.db import SQLITE_WRITER_FUNCTION, Database
from equipoise.store.migrate import upgrade
from equipoise.store.models import AuditHead, Patient
from tests.store.support import pg_schemas
from tests.store.test_audit_trail import _entries, _tamper, seeded_database

__all__ = ["pg_schemas"]


@pytest.fixture
def seeded(db: Database) -> Database:
    return seeded_database(db)


def _append_forged(db: Database, **changes: Any) -> int:
    """What someone with write access but no key can do: append an entry with a correct SHA-256 chain hash,
    attributed to a real user, and move the head to it."""
    last = _entries(db)[-1]
    key_id, mac = changes.pop("key_id", None), changes.pop("mac", None)
    fields = {**hashed_fields(last), "id": last.id + 1, "prev_hash": last.hash, **changes}
    forged = entry_hash(last.hash, fields)
    columns = {**fields, "hash": forged, "key_id": key_id, "mac": mac}
    names = ", ".join(columns)
    _tamper(db, f"INSERT INTO audit_log ({names}) VALUES ({', '.join(':' + n for n in columns)})",
            **{k: (_json(v) if k in ("old_values", "new_values") else v) for k, v in columns.items()})
    _tamper(db, "UPDATE audit_head SET last_id = :i, last_hash = :h WHERE id = 1", i=last.id + 1, h=forged)
    return last.id + 1


def _json(value: object) -> object:
    return None if value is None else json.dumps(value)


def test_every_entry_and_the_head_carry_a_valid_mac_and_the_key_id(seeded: Database) -> None:
    keys = seeded.keys_if_present()
    assert keys is not None
    for entry in _entries(seeded):
        assert entry.key_id == keys.current_id
        assert entry.mac == keys.entry_mac(entry.hash)
    with seeded.read() as s:
        head = s.get_one(AuditHead, 1)
    assert head.mac == keys.head_mac(head.last_id, head.last_hash)
    report = verify(seeded)
    assert report.ok, str(report)
    assert report.key is not None
    assert report.key.checked
    assert report.key.signed == len(_entries(seeded))
    assert "MACs valid" in str(report)


def test_a_changed_value_with_an_appended_sha_hashed_entry_by_a_real_user_fails_with_the_key(seeded: Database,
                                                                                            run_cli: Any) -> None:
    """The issue's forgery: the patient's age changed, and an entry for it appended with a correct SHA-256 hash,
    attributed to alice. Without the key it verifies (and says it checked only the unkeyed hashes); with the key it
    fails at the forged entry, even though --expect-head of the old head still passes (it was extended, not cut)."""
    last = _entries(seeded)[-1]
    with seeded.read() as s:
        patient = s.scalars(select(Patient)).one()
    _tamper(seeded, "UPDATE patients SET enrolment_values = :v", v='{"age": 70}')
    # It looks signed: the key id and a MAC copied from the entry before (a MAC of this hash needs the key).
    forged = _append_forged(seeded, actor="alice", actor_id=1, action="update", table_name="patients",
                            record_id=str(patient.id), old_values={"enrolment_values": {"age": 50}},
                            new_values={"enrolment_values": {"age": 70}}, reason="typo", site_id="pumch",
                            key_id=last.key_id, mac=last.mac)
    unkeyed = verify(seeded, without_key=True)
    assert unkeyed.ok
    assert str(unkeyed).startswith("audit trail verified (unkeyed hashes only)")
    assert "NOT checked against the audit key" in str(unkeyed)
    assert "only the unkeyed SHA-256" in str(unkeyed)
    keyed = verify(seeded)
    assert not keyed.ok
    assert keyed.first_bad_entry == forged
    assert "MAC does not match" in str(keyed)
    result = run_cli("audit", "verify", "--db", seeded.url, "--expect-head", last.hash)
    assert result.code == 1
    assert f"first bad entry: {forged}" in result.stdout


def _export_then_delete_it_and_rehash(db: Database, *, then_write: bool) -> str:
    """Delete the export's audit event, renumber and rehash every entry after it and move the head: the unkeyed
    chain verifies again. Returns the head hash recorded before (what --expect-head gets)."""
    ExportService(db).export(system_principal("test"), "MSC-COVID-RCT", fmt="csv")
    if then_write:
        with db.write(AuditContext(actor="alice", actor_id=1, reason="later")) as s:
            s.scalars(select(Patient)).one().enrolment_values = {"age": 51}
    entries = _entries(db)
    head_before = entries[-1].hash
    victim = next(e for e in entries if e.action.startswith("export"))
    _tamper(db, "DELETE FROM audit_log WHERE id = :id", id=victim.id)
    previous = victim.prev_hash
    for entry in (e for e in entries if e.id > victim.id):
        fields = {**hashed_fields(entry), "id": entry.id - 1, "prev_hash": previous}
        new_hash = entry_hash(previous, fields)
        _tamper(db, "UPDATE audit_log SET id = :new_id, prev_hash = :p, hash = :h WHERE id = :id",
                new_id=entry.id - 1, p=previous, h=new_hash, id=entry.id)
        previous = new_hash
    _tamper(db, "UPDATE audit_head SET last_id = :i, last_hash = :h WHERE id = 1", i=entries[-1].id - 1, h=previous)
    return head_before


@pytest.mark.parametrize("then_write", [False, True], ids=["export-last", "export-in-the-middle"])
def test_a_rehashed_chain_after_deleting_an_export_event_fails_with_or_without_expect_head(
        seeded: Database, run_cli: Any, then_write: bool) -> None:
    head_before = _export_then_delete_it_and_rehash(seeded, then_write=then_write)
    assert verify(seeded, without_key=True).ok  # the unkeyed chain was recomputed: it cannot tell
    report = verify(seeded)
    assert not report.ok
    assert any(f.kind == "key" for f in report.findings), str(report)
    assert run_cli("audit", "verify", "--db", seeded.url).code == 1
    assert run_cli("audit", "verify", "--db", seeded.url, "--expect-head", head_before).code == 1


def test_macs_stripped_and_the_chain_rehashed_as_if_never_keyed_fails(seeded: Database) -> None:
    """Removing every MAC would make the trail look like one written before the key: the head must be signed."""
    _tamper(seeded, "UPDATE audit_log SET key_id = NULL, mac = NULL")
    _tamper(seeded, "UPDATE audit_head SET key_id = NULL, mac = NULL")
    assert verify(seeded, without_key=True).ok
    report = verify(seeded)
    assert not report.ok
    assert "head is not signed with the audit key" in str(report)


def test_entries_signed_with_a_key_the_file_does_not_hold_fail(seeded: Database, tmp_path: Path) -> None:
    other = keys_for_writing(tmp_path / "another-servers-keys")
    report = verify(seeded, other)
    assert not report.ok
    assert "which the key file does not hold" in str(report)


def test_key_rotation_new_entries_use_the_new_key_and_old_entries_keep_verifying(db_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "audit-keys"
    first = Database(db_url, audit_key_file=key_file)
    seeded_database(first)
    assert (key_file.stat().st_mode & 0o777) == 0o600  # created at the first write, owner only
    old_id = first.keys_for_writing().current_id
    first.dispose()
    rotated = rotate_key(key_file)
    assert rotated.ids[0] == old_id
    assert rotated.current_id != old_id
    assert (key_file.stat().st_mode & 0o777) == 0o600
    second = Database(db_url, audit_key_file=key_file)  # a server started after the rotation
    with second.write(AuditContext(actor="alice", actor_id=1, reason="after rotation")) as s:
        s.scalars(select(Patient)).one().enrolment_values = {"age": 52}
    ids = [e.key_id for e in _entries(second)]
    assert ids[0] == old_id
    assert ids[-1] == rotated.current_id
    report = verify(second)
    assert report.ok, str(report)
    assert report.key is not None
    assert set(report.key.key_ids) == {old_id, rotated.current_id}
    only_new = AuditKeys(key_file, rotated.keys[1:])  # the old key thrown away: its entries cannot be checked
    assert "which the key file does not hold" in str(verify(second, only_new))
    second.dispose()


def test_the_key_file_is_refused_when_others_may_read_it(tmp_path: Path) -> None:
    from equipoise.errors import UserError

    path = tmp_path / "keys"
    keys_for_writing(path)
    path.chmod(0o644)
    with pytest.raises(UserError, match="chmod 600"):
        load_keys(path)


def test_sqlite_writer_guard_bypassed_on_ones_own_connection_is_caught_by_the_key(tmp_path: Path) -> None:
    """The SQLite write guard (migration 0017) is a function only Equipoise's connections have; anyone can register
    a function of that name on their own connection and write. It cannot be prevented on SQLite; the keyed chain
    makes such a write detectable even when the writer also appends a correctly hashed entry."""
    path = tmp_path / "guarded.sqlite3"
    database = Database(f"sqlite:///{path}")
    upgrade(database)
    seeded = seeded_database(database)
    last = _entries(seeded)[-1]
    with seeded.read() as s:
        patient = s.scalars(select(Patient)).one()
    other = sqlite3.connect(path)
    try:
        other.create_function(SQLITE_WRITER_FUNCTION, 0, lambda: 1)
        other.execute("UPDATE patients SET enrolment_values = '{\"age\": 70}'")
        fields = {**hashed_fields(last), "id": last.id + 1, "prev_hash": last.hash, "action": "update",
                  "table_name": "patients", "record_id": str(patient.id), "actor": "alice", "actor_id": 1,
                  "old_values": {"enrolment_values": {"age": 50}}, "new_values": {"enrolment_values": {"age": 70}}}
        forged = entry_hash(last.hash, fields)
        row = {**fields, "hash": forged, "old_values": _json(fields["old_values"]),
               "new_values": _json(fields["new_values"]), "key_id": last.key_id, "mac": last.mac}
        other.execute(f"INSERT INTO audit_log ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                      list(row.values()))
        other.execute("UPDATE audit_head SET last_id = ?, last_hash = ? WHERE id = 1", (last.id + 1, forged))
        other.commit()
    finally:
        other.close()
    assert verify(seeded, without_key=True).ok  # the bypass went through, and the unkeyed chain cannot tell
    report = verify(seeded)
    assert report.first_bad_entry == last.id + 1
    database.dispose()


def test_a_trail_written_before_the_key_is_an_unkeyed_prefix_sealed_by_the_migration(tmp_path: Path) -> None:
    """An old-schema backup (schema 0010, no MACs) restored and migrated: its entries verify by SHA-256 as an
    unkeyed prefix, and migration 0021 seals them with a keyed ``audit.keyed`` entry; a prefix entry changed and
    the prefix rehashed afterwards breaks the seal."""
    from equipoise.integrity.backup import restore_backup

    target = Database(f"sqlite:///{tmp_path / 'restored.sqlite3'}")
    restore_backup(target, Path(__file__).parents[1] / "data" / "schema-0010-demo.eqbackup")
    entries = _entries(target)
    seal = next(e for e in entries if e.action == "audit.keyed")
    prefix = [e for e in entries if e.id < seal.id]
    assert prefix
    assert all(e.mac is None for e in prefix)
    assert all(e.mac is not None for e in entries if e.id >= seal.id)
    assert seal.new_values is not None
    assert seal.new_values["unkeyed_entries"] == len(prefix)
    report = verify(target)
    assert report.ok, str(report)
    assert report.key is not None
    assert report.key.unkeyed_prefix == len(prefix)
    assert f"sealed by entry {seal.id}" in str(report)
    # Rewrite the prefix (the first entry's reason, every hash after it) up to the seal, without the key.
    previous = prefix[0].prev_hash
    for i, entry in enumerate(prefix):
        fields = {**hashed_fields(entry), "prev_hash": previous, **({"reason": "rewritten"} if i == 0 else {})}
        previous = entry_hash(previous, fields)
        _tamper(target, "UPDATE audit_log SET prev_hash = :p, hash = :h, reason = :r WHERE id = :id",
                p=fields["prev_hash"], h=previous, r=fields["reason"], id=entry.id)
    fields = {**hashed_fields(seal), "prev_hash": previous}
    _tamper(target, "UPDATE audit_log SET prev_hash = :p, hash = :h WHERE id = :id", p=previous,
            h=entry_hash(previous, fields), id=seal.id)
    assert verify(target).first_bad_entry == seal.id
    target.dispose()


def test_an_unsigned_entry_written_later_is_named_even_without_the_key(seeded: Database) -> None:
    """An unsigned entry after signed ones is wrong whoever looks: the prefix comes first, never later."""
    forged = _append_forged(seeded, actor="alice", actor_id=1, action="login", table_name=None, record_id=None,
                            old_values=None, new_values={}, at=dt.datetime.now(dt.UTC).isoformat())
    assert verify(seeded, without_key=True).first_bad_entry == forged


def test_audit_rotate_key_command_adds_a_key_and_refuses_a_missing_file(tmp_path: Path, run_cli: Any,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "audit-keys"
    monkeypatch.setenv("EQUIPOISE_AUDIT_KEY_FILE", str(path))
    missing = run_cli("audit", "rotate-key")
    assert missing.code == 2
    assert "no audit key file to rotate" in missing.stderr + missing.stdout
    first = keys_for_writing(path).current_id
    result = run_cli("audit", "rotate-key")
    assert result.code == 0, result.stderr
    keys = load_keys(path)
    assert keys is not None
    assert keys.ids[0] == first
    assert len(keys.ids) == 2
    assert keys.current_id in result.stdout


def test_the_upgrade_to_the_keyed_chain_stops_before_it_starts_when_the_key_file_is_unusable(tmp_path: Path) -> None:
    from equipoise.errors import UserError
    from equipoise.store.migrate import current_revision

    key_file = tmp_path / "audit-keys"
    keys_for_writing(key_file)
    key_file.chmod(0o644)
    database = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}", audit_key_file=key_file)
    upgrade(database, "0020_audit_site")
    with pytest.raises(UserError, match="chmod 600"):
        upgrade(database)
    assert current_revision(database) == "0020_audit_site"
    database.dispose()
