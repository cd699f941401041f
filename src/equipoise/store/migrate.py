"""Bring a database's schema up to date with the Alembic migrations shipped in the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from equipoise.store.db import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Apply every migration not yet applied (run once, before starting server processes)."""
    config = alembic_config(db)
    with db.write_engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def current_revision(db: Database) -> str | None:
    with db.read_engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config_from_path()).get_current_head()


def alembic_config_from_path() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config
