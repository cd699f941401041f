"""``equipoise audit verify``: recompute the hash chain, then check every audited record against its history.

Three independent checks (21 CFR 11.10(e): "record changes shall not obscure previously recorded information"):

1. The chain: entries are numbered 1..N without gaps, each carries the previous entry's hash, each hash is
   the SHA-256 of its own content, and the head row names the last entry. A changed, removed or inserted
   entry breaks it at that entry. With the audit key (``equipoise.store.audit_keys``), every entry after the
   unkeyed prefix of a migrated trail must carry a valid HMAC of its hash, and the head a valid HMAC of itself:
   a chain rehashed, extended or cut back by someone without the key fails here. Without the key only the
   SHA-256 hashes are checked, which anyone who can write the database can recompute; the report says so.
2. The records: for every audited table (a generic replay keyed by table and record id, so tables added later
   are covered too), the replay of the entries' inserts/updates/deletes must equal the current row, column by
   column; a row changed behind the application's back, or one with no history, is named.
3. The allocations: every trial's allocations are recomputed from their inputs and draws
   (``equipoise.services.replay``), so an arm changed together with its audit entry is caught even then.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, inspect, select, tuple_
from sqlalchemy.orm import Session

from equipoise.errors import ForbiddenError
from equipoise.identity.principal import Principal
from equipoise.services.randomization_lists import list_digest
from equipoise.services.replay import ReplayReport, replay_trial
from equipoise.store.audit import entry_hash, hashed_fields, row_values
from equipoise.store.audit_keys import AuditKeys
from equipoise.store.base import Base
from equipoise.store.db import Database
from equipoise.store.list_models import RandomizationList, RandomizationListEntry
from equipoise.store.models import GENESIS_HASH, AuditEntry, AuditHead, Trial
from equipoise.store.schema import audited_models

BATCH = 1000  # rows (and their histories) held at a time


@dataclass(frozen=True)
class Finding:
    kind: str  # chain | key | record | allocation
    entry_id: int | None
    table: str | None
    record_id: str | None
    message: str

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)

    def __str__(self) -> str:
        where = f"entry {self.entry_id}" if self.entry_id is not None else f"{self.table} {self.record_id}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class KeyCheck:
    """What the audit key proved: ``checked`` is False when no key file was there (only SHA-256 was checked)."""

    checked: bool
    key_file: str
    signed: int  # entries carrying a MAC
    unkeyed_prefix: int  # entries written before the key (sealed by the first signed entry)
    key_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"checked": self.checked, "key_file": self.key_file, "signed": self.signed,
                "unkeyed_prefix": self.unkeyed_prefix, "key_ids": list(self.key_ids)}

    def __str__(self) -> str:
        if not self.checked:
            return (f"NOT checked against the audit key (no key file at {self.key_file}): only the unkeyed SHA-256 "
                    "hashes were checked, which anyone who can write the database can recompute. Run it again "
                    "where the key is (EQUIPOISE_AUDIT_KEY_FILE) to detect forged, rehashed or removed entries.")
        text = f"{self.signed} entries signed with the audit key ({', '.join(self.key_ids) or 'none'}), MACs valid"
        if self.unkeyed_prefix:
            text += (f"; the first {self.unkeyed_prefix} entries, written before the key, are checked by SHA-256 "
                     f"only and sealed by entry {self.unkeyed_prefix + 1}")
        return text


@dataclass(frozen=True)
class VerifyReport:
    entries: int
    records: int
    head_hash: str
    findings: list[Finding] = field(default_factory=list)
    allocations: int = 0
    key: KeyCheck | None = None

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_bad_entry(self) -> int | None:
        ids = [f.entry_id for f in self.findings if f.entry_id is not None]
        return min(ids) if ids else None

    def __str__(self) -> str:
        if self.ok:
            scope = " (unkeyed hashes only)" if self.key is not None and not self.key.checked else ""
            text = (f"audit trail verified{scope}: {self.entries} entries, chain intact (head {self.head_hash[:16]}…), "
                    f"{self.records} records equal the replay of their history, {self.allocations} allocations "
                    "equal their recomputation")
            return text if self.key is None else f"{text}\n{self.key}"
        lines = [f"audit trail FAILED verification: {len(self.findings)} problem(s)"]
        if self.key is not None and not self.key.checked:
            lines.append(str(self.key))
        if self.first_bad_entry is not None:
            lines.append(f"first bad entry: {self.first_bad_entry}")
        lines += [f"  - {f}" for f in self.findings[:50]]
        if len(self.findings) > 50:
            lines.append(f"  ... and {len(self.findings) - 50} more")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "entries": self.entries, "records": self.records, "allocations": self.allocations,
                "head_hash": self.head_hash, "first_bad_entry": self.first_bad_entry,
                "key": None if self.key is None else self.key.to_dict(),
                "findings": [f.to_dict() for f in self.findings]}


@dataclass
class _Replayed:
    values: dict[str, Any] | None
    last_entry: int


def verify_for(db: Database, principal: Principal) -> VerifyReport:
    """``verify`` for an administrator: only an administrator may check the whole audit trail (it spans every
    trial)."""
    if not principal.is_admin:
        raise ForbiddenError("only an admin can verify the whole audit trail")
    return verify(db)


def verify(db: Database, keys: AuditKeys | None = None, *, without_key: bool = False) -> VerifyReport:
    """Check the chain (with ``keys``, else the database's key file unless ``without_key``), the records and the
    allocations."""
    return verify_with_replays(db, keys, without_key=without_key)[0]


def verify_with_replays(db: Database, keys: AuditKeys | None = None, *, without_key: bool = False
                        ) -> tuple[VerifyReport, list[ReplayReport]]:
    """``verify``, with each trial's replay of its allocations (so a caller that reports them replays once)."""
    if keys is None and not without_key:
        keys = db.keys_if_present()
    findings: list[Finding] = []
    signed = 0
    unkeyed_prefix = 0
    tables = {m.__tablename__: m for m in audited_models()}
    prev_hash = GENESIS_HASH
    expected_id = 1
    count = 0
    with db.read() as s:
        for entry in s.scalars(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=BATCH)):
            count += 1
            if entry.id != expected_id:
                findings.append(Finding("chain", entry.id, None, None,
                                        f"expected entry {expected_id} here: entries are missing or renumbered"))
            if entry.prev_hash != prev_hash:
                findings.append(Finding("chain", entry.id, None, None,
                                        "does not carry the previous entry's hash (an entry before it was "
                                        "changed, removed or inserted)"))
            if entry_hash(entry.prev_hash, hashed_fields(entry)) != entry.hash:
                findings.append(Finding("chain", entry.id, None, None, "content does not match its hash "
                                        "(the entry was changed after it was written)"))
            if entry.key_id is None or entry.mac is None:
                if signed:
                    findings.append(Finding("key", entry.id, None, None, "is not signed with the audit key although "
                                            "entries before it are (written by someone without the key)"))
                else:
                    unkeyed_prefix += 1
            else:
                signed += 1
                _check_mac(keys, entry, findings)
            prev_hash = entry.hash
            expected_id = entry.id + 1
        # What replaying the entries finds (an insert of a record that exists, ...) is reported among the chain's
        # findings, at its entry, as when the replay ran inside the chain's pass.
        replay_findings: list[Finding] = []
        records, record_findings = _check_records(s, tables, replay_findings)
        findings = sorted(findings + replay_findings, key=lambda f: f.entry_id or 0)
        head = s.get(AuditHead, 1)
        if head is None or head.last_id != expected_id - 1 or head.last_hash != prev_hash:
            findings.append(Finding("chain", expected_id - 1 if count else None, "audit_head", "1",
                                    "the chain's head does not match the last entry (entries were removed from "
                                    "the end, or the head was changed)"))
        if keys is not None and count and head is not None:
            _check_head(keys, head, findings)
        findings += record_findings
        findings += _list_findings(s)
        trials = list(s.scalars(select(Trial.id).order_by(Trial.id)))
    allocations = 0
    replays = []
    for trial_id in trials:
        replayed_trial = replay_trial(db, trial_id)
        replays.append(replayed_trial)
        allocations += replayed_trial.allocations
        # A difference names an allocation or a state row, never an arm: safe for blinded operators.
        findings += [Finding("allocation", None, "allocations" if d.allocation_id else "allocation_states",
                             str(d.allocation_id) if d.allocation_id else d.state_key, f"{trial_id}: {d.message}")
                     for d in replayed_trial.differences]
    key = KeyCheck(keys is not None, str(db.audit_key_file if keys is None else keys.path), signed, unkeyed_prefix,
                   keys.ids if keys is not None else ())
    return VerifyReport(count, records, prev_hash, findings, allocations, key), replays


def _check_mac(keys: AuditKeys | None, entry: AuditEntry, findings: list[Finding]) -> None:
    assert entry.key_id is not None
    assert entry.mac is not None
    if keys is None:
        return
    if not keys.knows(entry.key_id):
        findings.append(Finding("key", entry.id, None, None, f"is signed with key {entry.key_id}, which the key file "
                                "does not hold (a lost key, another server's key, or a forged id)"))
    elif not hmac.compare_digest(keys.entry_mac(entry.hash, entry.key_id), entry.mac):
        findings.append(Finding("key", entry.id, None, None, "its MAC does not match its hash under the audit key "
                                "(changed, rehashed or written by someone without the key)"))


def _check_head(keys: AuditKeys, head: AuditHead, findings: list[Finding]) -> None:
    """The head must be signed: entries cut from the end with the head moved back (or every MAC stripped and the
    chain rehashed as if it had never been keyed) leave a head without a valid MAC."""
    problem = None
    if head.key_id is None or head.mac is None:
        problem = ("is not signed with the audit key: the trail's signatures were removed, or it was never sealed "
                   "(the upgrade to migration 0021 seals a trail written before the key)")
    elif not keys.knows(head.key_id):
        problem = f"is signed with key {head.key_id}, which the key file does not hold"
    elif not hmac.compare_digest(keys.head_mac(head.last_id, head.last_hash, head.key_id), head.mac):
        problem = "its MAC does not match under the audit key (entries were removed from the end, or it was moved)"
    if problem is not None:
        findings.append(Finding("key", head.last_id or None, "audit_head", "1", f"the chain's head {problem}"))


def _list_findings(s: Session) -> list[Finding]:
    """Uploaded list entries are not audited one by one: their list's audited checksum must still match them."""
    findings = []
    for row in s.scalars(select(RandomizationList).order_by(RandomizationList.id)):
        entries = s.execute(select(RandomizationListEntry.stratum, RandomizationListEntry.position,
                                   RandomizationListEntry.arm).where(RandomizationListEntry.list_id == row.id)).all()
        if len(entries) != row.entries or list_digest((e.stratum, e.position, e.arm) for e in entries) != (
                row.entries_sha256):
            findings.append(Finding("record", None, "randomization_list_entries", str(row.id),
                                    f"the entries of randomization list {row.id} do not match its audited checksum "
                                    f"({len(entries)} entries, {row.entries} uploaded): changed in the database"))
    return findings


def _audit_defaults(model: type[Base]) -> dict[str, Any]:
    """Values of columns added after entries were written: those entries have no value for them."""
    return {c.key: c.columns[0].info["audit_default"] for c in inspect(model).column_attrs
            if "audit_default" in c.columns[0].info}


def _record_id(model: type[Base], row: Base) -> str:
    return "/".join(str(part) for part in inspect(model).primary_key_from_instance(row))


def _check_records(s: Session, tables: dict[str, type[Base]], replay_findings: list[Finding]
                   ) -> tuple[int, list[Finding]]:
    """Every audited row against the replay of its own history, a batch of rows at a time (memory bounded by
    the batch, not the trial): the batch's histories are read through the index on (table, record id). Then
    the records whose history ends with the record present but which are gone (deleted around the trail), in
    the order their histories began. Returns the rows checked and the findings."""
    findings: list[Finding] = []
    records = 0
    for name, model in tables.items():
        defaults = _audit_defaults(model)
        for batch in s.scalars(select(model).execution_options(yield_per=BATCH)).partitions():
            ids = [_record_id(model, row) for row in batch]
            histories = _histories(s, name, ids, replay_findings)
            for row, record_id in zip(batch, ids, strict=True):
                records += 1
                history = histories.get(record_id)
                if history is None or history.values is None:
                    findings.append(Finding("record", None, name, record_id,
                                            "exists in the database but has no audit history (written around "
                                            "the audit trail)" if history is None else
                                            "exists although its history ends with a delete"))
                    continue
                current = row_values(row)
                replayed_values = {**defaults, **history.values}
                differing = sorted(k for k in set(current) | set(replayed_values)
                                   if current.get(k) != replayed_values.get(k))
                if differing:
                    findings.append(Finding("record", None, name, record_id,
                                            f"differs from the replay of its history in {', '.join(differing)} "
                                            f"(last audited change: entry {history.last_entry})"))
        with_history = (select(AuditEntry.record_id)
                        .where(AuditEntry.table_name == name, AuditEntry.record_id.is_not(None))
                        .group_by(AuditEntry.record_id).order_by(func.min(AuditEntry.id)))
        for chunk in s.scalars(with_history.execution_options(yield_per=BATCH)).partitions():
            ids = [str(i) for i in chunk]
            present = _present(s, model, ids)
            gone = [i for i in ids if i not in present]
            histories = _histories(s, name, gone, replay_findings) if gone else {}
            for record_id in gone:
                history = histories[record_id]
                if history.values is not None:
                    findings.append(Finding("record", None, name, record_id,
                                            f"was deleted without an audit entry (last entry {history.last_entry})"))
    return records, findings


def _histories(s: Session, table: str, record_ids: list[str], findings: list[Finding]) -> dict[str, _Replayed]:
    """The replay of these records' entries (one statement, through the index on table and record id)."""
    replayed: dict[tuple[str, str], _Replayed] = {}
    for entry in s.execute(select(AuditEntry.id, AuditEntry.table_name, AuditEntry.record_id, AuditEntry.action,
                                  AuditEntry.old_values, AuditEntry.new_values)
                           .where(AuditEntry.table_name == table, AuditEntry.record_id.in_(record_ids))
                           .order_by(AuditEntry.id)):
        _apply(replayed, entry, findings)
    return {record_id: history for (_table, record_id), history in replayed.items()}


def _present(s: Session, model: type[Base], record_ids: list[str]) -> set[str]:
    """Which of these record ids (primary keys joined by '/', as ``_record_id`` makes them) are rows now."""
    keys = list(inspect(model).primary_key)
    wanted = [key for key in (_typed(keys, i) for i in record_ids) if key is not None]
    if not wanted:
        return set()
    where = keys[0].in_([w[0] for w in wanted]) if len(keys) == 1 else tuple_(*keys).in_(wanted)
    return {"/".join(str(part) for part in row) for row in s.execute(select(*keys).where(where))}


def _typed(keys: list[Any], record_id: str) -> tuple[Any, ...] | None:
    """A record id as its primary key's values (None: no row can have it, e.g. text where a number is kept)."""
    parts = [record_id] if len(keys) == 1 else record_id.split("/")  # a text key may itself hold '/'
    if len(parts) != len(keys):
        return None
    try:
        return tuple(int(p) if k.type.python_type is int else p for k, p in zip(keys, parts, strict=True))
    except ValueError:
        return None


def _apply(replayed: dict[tuple[str, str], _Replayed], entry: Any, findings: list[Finding]) -> None:
    """Replay one entry (an AuditEntry or a row with its id, table_name, record_id, action and values)."""
    assert entry.table_name is not None
    assert entry.record_id is not None
    key = (entry.table_name, entry.record_id)
    current = replayed.get(key)
    if entry.action == "insert":
        if current is not None and current.values is not None:
            findings.append(Finding("chain", entry.id, entry.table_name, entry.record_id,
                                    "inserts a record that exists"))
        replayed[key] = _Replayed(dict(entry.new_values or {}), entry.id)
    elif entry.action == "update":
        if current is None or current.values is None:
            findings.append(Finding("chain", entry.id, entry.table_name, entry.record_id,
                                    "updates a record with no earlier history"))
            current = _Replayed({}, entry.id)
        for column, old in (entry.old_values or {}).items():
            if current.values is not None and current.values.get(column) != old:
                findings.append(Finding("chain", entry.id, entry.table_name, entry.record_id,
                                        f"old value of {column} differs from the value the history had reached"))
        values = dict(current.values or {})
        values.update(entry.new_values or {})
        replayed[key] = _Replayed(values, entry.id)
    elif entry.action == "delete":
        replayed[key] = _Replayed(None, entry.id)


def chain_contains(db: Database, entry_hash: str) -> bool:
    """Whether an entry of the trail has this hash (a head recorded earlier, say: the chain must still hold it)."""
    with db.read() as s:
        return s.scalar(select(AuditEntry.id).where(AuditEntry.hash == entry_hash)) is not None
