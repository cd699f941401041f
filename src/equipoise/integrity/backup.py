"""Backups of a whole trial database, checked and restorable on SQLite or PostgreSQL (SEC-1).

ICH E6(R3) §4.3.3 asks for backups and for restores that are tested; sites also start on the embedded SQLite
file and move to PostgreSQL. A backup is one zip file:

- ``manifest.json``: format, Equipoise version, schema revision, source database kind, UTC time, and for each
  table its row count and the SHA-256 of its file; the audit chain's head;
- ``tables/<table>.jsonl``: every row, one JSON object per line, ordered by primary key; timestamps as ISO
  8601 UTC text, dates as YYYY-MM-DD, JSON columns as JSON.

It is read in one snapshot (a PostgreSQL REPEATABLE READ transaction; a SQLite read transaction in WAL mode),
so the server may keep running. A restore checks every checksum before it writes anything, needs an empty
database, migrates it to the backup's schema revision, writes every row in one transaction (nothing is
written when anything fails), then upgrades the schema and verifies the audit chain and every record against
its history. Making a backup and restoring one are audit events of their own.

A JSON column holding SQL NULL comes back as JSON ``null``: both read as ``None`` everywhere in Equipoise.
With a passphrase the zip is sealed with AES-256-GCM (``backup_crypto``); checking and restoring it need the
passphrase, and a file that does not authenticate is refused before anything is read from it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import (
    Column,
    Connection,
    Date,
    DateTime,
    MetaData,
    Table,
    delete,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

from equipoise import __version__
from equipoise.errors import UserError
from equipoise.integrity.audit_verify import VerifyReport, chain_contains, verify_with_replays
from equipoise.integrity.backup_crypto import MIN_PASSPHRASE, decrypted, encrypt_file, is_encrypted
from equipoise.store.audit import AuditContext, record_event
from equipoise.store.db import Database
from equipoise.store.migrate import alembic_config_from_path, current_revision, head_revision, upgrade
from equipoise.store.models import GENESIS_HASH, AuditHead
from equipoise.store.schema import sorted_tables
from equipoise.store.types import UTCDateTime, iso, utcnow

FORMAT = "equipoise-backup"
FORMAT_VERSION = 1
BATCH = 1000
Progress = Callable[[str, int], None]  # (table, rows done so far in it)


@dataclass(frozen=True)
class TableEntry:
    rows: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    equipoise_version: str
    schema_revision: str
    source: str
    created_at: str
    tables: dict[str, TableEntry]
    audit_head: dict[str, Any]

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables.values())

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "equipoise_version": self.equipoise_version,
                "schema_revision": self.schema_revision, "source": self.source, "created_at": self.created_at,
                "tables": {name: {"rows": t.rows, "sha256": t.sha256} for name, t in self.tables.items()},
                "audit_head": self.audit_head}


@dataclass(frozen=True)
class RestoreReport:
    manifest: Manifest
    verify: VerifyReport
    schema_revision: str | None
    problems: list[str] = field(default_factory=list)
    trials_replayed: int = 0

    @property
    def ok(self) -> bool:
        return self.verify.ok and not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": self.manifest.rows, "tables": len(self.manifest.tables),
                "backup_created_at": self.manifest.created_at, "schema_revision": self.schema_revision,
                "verify": self.verify.to_dict(), "trials_replayed": self.trials_replayed,
                "problems": self.problems}

    def __str__(self) -> str:
        lines = [f"restored {self.manifest.rows} rows of {len(self.manifest.tables)} tables (backup of "
                 f"{self.manifest.created_at}, schema now {self.schema_revision})", str(self.verify),
                 f"allocations replayed in {self.trials_replayed} trial(s)"]
        lines += [f"PROBLEM: {p}" for p in self.problems]
        return "\n".join(lines)


def tables() -> list[Table]:
    """Every table of the schema, parents before children (foreign keys hold at every insert)."""
    return sorted_tables()


# --- making a backup -----------------------------------------------------------------------------------------------

def create_backup(db: Database, path: Path, progress: Progress | None = None,
                  operator: AuditContext | None = None, passphrase: str | None = None) -> Manifest:
    """Write a backup of ``db`` to ``path`` (a new file; an existing one is refused), encrypted under
    ``passphrase`` if one is given (``backup_crypto``)."""
    if passphrase is not None and len(passphrase) < MIN_PASSPHRASE:
        raise UserError(f"the backup passphrase needs at least {MIN_PASSPHRASE} characters")
    revision = current_revision(db)
    if revision is None:
        raise UserError(f"{_where(db)} holds no Equipoise schema: nothing to back up")
    if path.exists():
        raise UserError(f"{path} exists already: choose a new file name (a backup never overwrites a file)")
    partial = path.with_name(path.name + ".partial")
    entries: dict[str, TableEntry] = {}
    with tempfile.TemporaryDirectory(prefix="equipoise-backup-") as scratch:
        plain = Path(scratch) / "backup.zip" if passphrase is not None else partial
        try:
            # Owner-only: the file holds everything, password hashes and allocation secrets included.
            handle = os.fdopen(os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")
            with handle, _snapshot(db) as conn, zipfile.ZipFile(handle, "w",
                                                                compression=zipfile.ZIP_DEFLATED) as archive:
                for table in tables():
                    entries[table.name] = _dump_table(conn, table, archive, progress)
                head = conn.execute(select(AuditHead.last_id, AuditHead.last_hash)).one_or_none()
                manifest = Manifest(__version__, revision, db.dialect, iso(utcnow()), entries,
                                    {"last_id": head.last_id, "last_hash": head.last_hash} if head else {})
                archive.writestr("manifest.json", json.dumps(manifest.to_dict(), indent=2, sort_keys=True))
            if passphrase is not None:
                with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
                    encrypt_file(plain, out, passphrase)
            partial.replace(path)  # only a complete backup gets the name asked for
        finally:
            partial.unlink(missing_ok=True)
    with db.write(operator or AuditContext(actor="cli", source="cli")) as s:
        record_event(s, "backup.created", details={"file": path.name, "sha256": file_sha256(path),
                                                   "rows": manifest.rows, "audit_head": manifest.audit_head,
                                                   "encrypted": passphrase is not None})
    return manifest


@contextmanager
def _readable(path: Path, passphrase: str | None) -> Iterator[Path]:
    """The backup zip: the file itself, or the decryption of an encrypted backup."""
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if is_encrypted(path):
        with decrypted(path, passphrase) as plain:
            yield plain
    else:
        yield path


@contextmanager
def _snapshot(db: Database) -> Iterator[Connection]:
    """One read transaction that sees one consistent state of every table."""
    conn = db.read_engine.connect()
    if db.dialect == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    try:
        conn.begin()
        yield conn
    finally:
        conn.rollback()
        conn.close()


def _dump_table(conn: Connection, table: Table, archive: zipfile.ZipFile, progress: Progress | None
                ) -> TableEntry:
    digest = hashlib.sha256()
    rows = 0
    query = select(table).order_by(*table.primary_key.columns)
    with archive.open(f"tables/{table.name}.jsonl", "w") as out:
        for row in conn.execution_options(yield_per=BATCH).execute(query):
            line = (json.dumps(_encode(table, row._mapping), sort_keys=True, ensure_ascii=False) + "\n").encode()
            digest.update(line)
            out.write(line)
            rows += 1
            if progress is not None and rows % BATCH == 0:
                progress(table.name, rows)
    if progress is not None:
        progress(table.name, rows)
    return TableEntry(rows, digest.hexdigest())


def _encode(table: Table, row: Mapping[Any, Any]) -> dict[str, Any]:
    values = {}
    for column in table.columns:
        value = row[column.name]
        if isinstance(value, dt.datetime):
            value = iso(value)
        elif isinstance(value, dt.date):
            value = value.isoformat()
        values[column.name] = value
    return values


# --- reading and checking one --------------------------------------------------------------------------------------

def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_backup(path: Path, passphrase: str | None = None) -> Manifest:
    """The backup's manifest, once every table file matches its row count and checksum; else a UserError
    that says what is wrong."""
    with _readable(path, passphrase) as plain:
        return _check(path, plain)


def _check(path: Path, plain: Path) -> Manifest:
    with _open(path, plain) as archive:
        manifest = _manifest(path, archive)
        for name, entry in manifest.tables.items():
            digest = hashlib.sha256()
            rows = 0
            for line in _lines(path, archive, name):
                digest.update(line)
                rows += 1
            if rows != entry.rows or digest.hexdigest() != entry.sha256:
                raise UserError(f"{path}: tables/{name}.jsonl is damaged: {rows} rows (manifest: {entry.rows}), "
                                f"SHA-256 {digest.hexdigest()[:16]}… (manifest: {entry.sha256[:16]}…)")
    return manifest


def _open(path: Path, plain: Path) -> zipfile.ZipFile:
    """The zip ``plain`` (``path`` itself, or its decryption), its errors named after ``path``."""
    try:
        return zipfile.ZipFile(plain)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, OSError) as error:
        raise UserError(f"{path} is not an Equipoise backup (not a readable zip file: {error})") from None


def _manifest(path: Path, archive: zipfile.ZipFile) -> Manifest:
    try:
        data = json.loads(archive.read("manifest.json"))
    except KeyError:
        raise UserError(f"{path} is not an Equipoise backup: it has no manifest.json") from None
    except (ValueError, zipfile.BadZipFile, OSError) as error:
        raise UserError(f"{path}: manifest.json cannot be read ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError(f"{path} is not an Equipoise backup (manifest format {data.get('format')!r})"
                        if isinstance(data, dict) else f"{path}: manifest.json is not a JSON object")
    if data.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{path}: backup format version {data.get('format_version')!r}; this Equipoise reads "
                        f"version {FORMAT_VERSION}")
    try:
        entries = {str(name): TableEntry(int(t["rows"]), str(t["sha256"])) for name, t in data["tables"].items()}
        return Manifest(str(data["equipoise_version"]), str(data["schema_revision"]), str(data["source"]),
                        str(data["created_at"]), entries, dict(data.get("audit_head") or {}))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise UserError(f"{path}: manifest.json lacks or garbles {error}") from None


def _lines(path: Path, archive: zipfile.ZipFile, table: str) -> Iterator[bytes]:
    try:
        with archive.open(f"tables/{table}.jsonl") as handle:
            yield from handle
    except KeyError:
        raise UserError(f"{path}: the manifest lists table {table} but tables/{table}.jsonl is missing") from None
    except (zipfile.BadZipFile, OSError, EOFError) as error:  # a CRC error or a truncated member
        raise UserError(f"{path}: tables/{table}.jsonl cannot be read ({error})") from None


# --- restoring one -------------------------------------------------------------------------------------------------

def restore_backup(db: Database, path: Path, progress: Progress | None = None,
                   operator: AuditContext | None = None, passphrase: str | None = None) -> RestoreReport:
    """Restore the backup at ``path`` into ``db``, which must hold no data; then verify the audit trail."""
    with _readable(path, passphrase) as plain:
        return _restore(db, path, plain, progress, operator)


def _restore(db: Database, path: Path, plain: Path, progress: Progress | None,
             operator: AuditContext | None) -> RestoreReport:
    manifest = _check(path, plain)  # every checksum before anything is written
    known = {t.name: t for t in tables()}
    if not _knows(manifest.schema_revision):
        _unknown(path, manifest)
    target = current_revision(db)
    if target not in (None, manifest.schema_revision):
        raise UserError(f"{_where(db)} has schema revision {target}, the backup {manifest.schema_revision}: "
                        "restore into a new database (the restore creates the backup's schema, then upgrades it)")
    upgrade(db, manifest.schema_revision)
    _require_empty(db)
    unexpected = sorted(set(manifest.tables) - set(known))
    if unexpected:
        raise UserError(f"{path}: tables {', '.join(unexpected)} are not in this Equipoise's schema")
    with _open(path, plain) as archive, db.write_engine.begin() as conn:
        conn.execute(delete(AuditHead))  # the migration's genesis row; the backup has the real head
        for table in tables():
            if table.name in manifest.tables:
                _load_table(conn, path, archive, table, progress)
        if db.dialect == "postgresql":
            _reset_sequences(conn)
    upgrade(db)
    with db.write(operator or AuditContext(actor="cli", source="cli")) as s:
        record_event(s, "backup.restored", details={"file": path.name, "sha256": file_sha256(path),
                                                    "backup_created_at": manifest.created_at,
                                                    "rows": manifest.rows, "audit_head": manifest.audit_head})
    report, replays = verify_with_replays(db)  # its replay of the allocations is the check's (once, not twice)
    problems = []
    head = manifest.audit_head.get("last_hash")
    if head and not chain_contains(db, str(head)):
        problems.append(f"the restored audit trail does not contain the backup's head {str(head)[:16]}…")
    problems += [str(r) for r in replays if not r.identical]
    return RestoreReport(manifest, report, current_revision(db), problems, len(replays))


def _knows(revision: str) -> bool:
    """Whether this Equipoise has the schema revision a backup was made at."""
    try:
        return ScriptDirectory.from_config(alembic_config_from_path()).get_revision(revision) is not None
    except CommandError:  # alembic's answer for a revision it has never heard of
        return False


def _unknown(path: Path, manifest: Manifest) -> NoReturn:
    raise UserError(f"{path} was made by Equipoise {manifest.equipoise_version} with schema revision "
                    f"{manifest.schema_revision}, which this Equipoise (schema {head_revision()}) does not know: "
                    "restore it with that version or a newer one")


def _require_empty(db: Database) -> None:
    with db.read_engine.connect() as conn:
        filled = []
        present = set(inspect(conn).get_table_names())  # a schema older than this Equipoise has fewer tables
        for table in tables():
            if table.name not in present:
                continue
            count = conn.execute(select(func.count()).select_from(table)).scalar_one()
            if table.name == AuditHead.__tablename__:
                head = conn.execute(select(AuditHead.last_id, AuditHead.last_hash)).all()
                if [tuple(h) for h in head] not in ([], [(0, GENESIS_HASH)]):
                    filled.append(table.name)
            elif count:
                filled.append(f"{table.name} ({count} row{'' if count == 1 else 's'})")
    if filled:
        raise UserError(f"{_where(db)} already holds data ({', '.join(filled[:5])}"
                        f"{', …' if len(filled) > 5 else ''}): restore into a new, empty database")


def _load_table(conn: Connection, path: Path, archive: zipfile.ZipFile, table: Table, progress: Progress | None
                ) -> None:
    batch: list[dict[str, Any]] = []
    done = 0
    target: Table | None = None
    statement: Any = None
    for number, line in enumerate(_lines(path, archive, table.name), start=1):
        try:
            values = json.loads(line)
            if not isinstance(values, dict):
                raise ValueError("not a JSON object")
            if target is None:
                # The columns the backup has (an older schema has fewer), without the model's defaults: the
                # database is at the backup's revision while these rows go in.
                target = Table(table.name, MetaData(), *(Column(c.name, c.type, primary_key=c.primary_key)
                                                         for c in table.columns if c.name in values))
                statement = insert(target)
            batch.append(_decode(target, values))
        except (ValueError, TypeError, KeyError) as error:
            raise UserError(f"{path}: tables/{table.name}.jsonl line {number}: {error}") from None
        if len(batch) == BATCH:
            _insert(conn, path, statement, table, batch)
            done += len(batch)
            batch = []
            if progress is not None:
                progress(table.name, done)
    if batch:
        _insert(conn, path, statement, table, batch)
        done += len(batch)
    if progress is not None:
        progress(table.name, done)


def _insert(conn: Connection, path: Path, statement: Any, table: Table, rows: list[dict[str, Any]]) -> None:
    try:
        conn.execute(statement, rows)
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", error)).splitlines()[0]
        raise UserError(f"{path}: the rows of {table.name} cannot be written ({reason}); nothing was restored"
                        ) from None


def _decode(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(values, Mapping):
        raise ValueError("not a JSON object")
    row = {}
    for column in table.columns:
        value = values[column.name]
        if value is not None and isinstance(column.type, UTCDateTime | DateTime):
            value = dt.datetime.fromisoformat(value)
        elif value is not None and isinstance(column.type, Date):
            value = dt.date.fromisoformat(value)
        row[column.name] = value
    return row


def _reset_sequences(conn: Connection) -> None:
    """Explicit ids do not advance PostgreSQL's sequences: move each past the highest id restored."""
    present = set(inspect(conn).get_table_names())
    for table in tables():
        if "id" not in table.columns or table.name not in present:
            continue
        sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name}).scalar()
        if sequence is not None:
            conn.execute(text(f"SELECT setval('{sequence}', COALESCE((SELECT max(id) FROM {table.name}), 0) + 1, "
                              "false)"))


def _where(db: Database) -> str:
    return db.url.split("@")[-1] if "@" in db.url else db.url
