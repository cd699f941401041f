"""The ``--db`` option shared by the trial-server commands, and opening (and migrating) that database."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy.engine import make_url

from equipoise.errors import UserError
from equipoise.store.db import DATABASE_URL_ENV, Database, default_database_url, normalize_url
from equipoise.store.migrate import upgrade

DbOption = typer.Option(
    None, "--db", help="Database URL (sqlite:///FILE or postgresql+psycopg://...); default: "
    "$EQUIPOISE_DATABASE_URL, else a SQLite file in $EQUIPOISE_DATA_DIR (~/.local/share/equipoise). "
    "The demo of `make run`: sqlite:///.equipoise-demo/equipoise.sqlite3.",
)

# Where `make run` (equipoise demo --data-dir .equipoise-demo) keeps its database, relative to the checkout.
DEMO_DATABASE = Path(".equipoise-demo") / "equipoise.sqlite3"

# The database this command opened, for the hint after "no trial ..." (one command per process).
_opened: list[str] = []


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def open_database(url: str | None, *, existing: bool = False) -> Database:
    """The database at ``url`` with its schema brought up to date.

    ``existing``: the command only reads or checks a trial, so a SQLite file that is not there is refused
    instead of being created empty (a mistyped ``--db`` path, or the default path when the data are elsewhere).
    """
    resolved = normalize_url(url or default_database_url())
    path = _sqlite_file(resolved)
    if existing and path is not None and not path.exists():
        raise UserError(f"no database at {path}: {where_hint()}")
    db = Database(resolved)
    upgrade(db)
    _opened.append(db.url)
    return db


def where_hint() -> str:
    """What to try when the database opened is not the one holding the trial."""
    hint = f"give the database with --db URL or ${DATABASE_URL_ENV}"
    if DEMO_DATABASE.exists():
        hint += f" (the demo of `make run` is --db sqlite:///{DEMO_DATABASE})"
    return hint


def forget_opened_database() -> None:
    """A new command starts (the tests run several in one process)."""
    _opened.clear()


def opened_database() -> str | None:
    """The URL of the database this command opened (None before any)."""
    return _opened[-1] if _opened else None
