"""Bring a database's schema up to date with the Alembic migrations shipped in the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from equipoise.store.audit import AuditContext, record_event
from equipoise.store.db import Database
from equipoise.store.models import AuditHead

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Apply every migration not yet applied (run once, before starting server processes).

    A trail written before the keyed chain (migration 0021) is sealed at once by a keyed ``audit.keyed`` entry: it
    carries the unkeyed prefix's last hash under its MAC. Only when this call ran 0021: sealing a trail found
    unkeyed later could hide a chain whose MACs were stripped."""
    before = current_revision(db)
    sealing = before is not None and _number(before) < KEYED_CHAIN and _number(revision) >= KEYED_CHAIN
    if sealing:
        db.keys_for_writing()  # a key file that cannot be read or created stops the upgrade before it starts
    config = alembic_config(db)
    with db.write_engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()
    if sealing:
        _seal_unkeyed_trail(db)


KEYED_CHAIN = 21  # the migration that keys the audit chain


def _number(revision: str | None) -> int:
    """A revision's number ("0020_audit_site": 20); "head" (or any name without a number) counts as the newest."""
    if not revision:
        return 0
    number = revision.split("_", 1)[0]
    return int(number) if number.isdigit() else 10**6


def _seal_unkeyed_trail(db: Database) -> None:
    with db.read() as s:
        head = s.get(AuditHead, 1)
        if head is None or head.last_id == 0 or head.mac is not None:
            return
        unkeyed_entries, unkeyed_head = head.last_id, head.last_hash
    with db.write(AuditContext(actor="system", source="migration 0021")) as s:
        record_event(s, "audit.keyed", details={"key_id": db.keys_for_writing().current_id,
                                                "unkeyed_entries": unkeyed_entries, "unkeyed_head": unkeyed_head})


def current_revision(db: Database) -> str | None:
    with db.read_engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config_from_path()).get_current_head()


def alembic_config_from_path() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config
