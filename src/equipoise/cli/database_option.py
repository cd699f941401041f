"""The ``--db`` option shared by the trial-server commands, and opening (and migrating) that database."""

from __future__ import annotations

import typer

from equipoise.store.db import Database
from equipoise.store.migrate import upgrade

DbOption = typer.Option(
    None, "--db", help="Database URL (sqlite:///FILE or postgresql+psycopg://...); default: "
    "$EQUIPOISE_DATABASE_URL, else a SQLite file in $EQUIPOISE_DATA_DIR (~/.local/share/equipoise).",
)


def open_database(url: str | None) -> Database:
    """The database at ``url`` with its schema brought up to date."""
    db = Database(url)
    upgrade(db)
    return db
