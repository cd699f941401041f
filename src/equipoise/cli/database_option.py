"""The ``--db`` option shared by the trial-server commands, and opening (and migrating) that database.

Only the commands that make a new installation create a database (``trial create``, ``demo``, ``backup
restore``, and ``serve``, which says so on stderr): every other command refuses a database that does not exist
yet, so a mistyped ``--db`` path is an error instead of a new, empty database that then "verifies" with 0
entries.
"""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from equipoise.cli.database_hint import note_opened_database, where_hint
from equipoise.cli.output import error_console
from equipoise.errors import UserError
from equipoise.store.db import Database, default_database_url, normalize_url
from equipoise.store.migrate import current_revision, upgrade

DbOption = typer.Option(
    None, "--db", help="Database URL (sqlite:///FILE or postgresql+psycopg://...); default: "
    "$EQUIPOISE_DATABASE_URL, else a SQLite file in $EQUIPOISE_DATA_DIR (~/.local/share/equipoise). "
    "The demo of `make run`: sqlite:///.equipoise-demo/equipoise.sqlite3.",
)

_CREATE_HINT = "'equipoise trial create FILE --db URL' (or 'equipoise demo', 'equipoise backup restore') creates one"


def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def _sqlite_file(url: str) -> Path | None:
    try:
        parsed = make_url(url)
    except Exception:
        return None  # Database() names the bad URL
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def open_database(url: str | None, *, create: bool = False, migrate: bool = True, announce: bool = False
                  ) -> Database:
    """The database at ``url`` with its schema brought up to date.

    ``create``: a database that does not exist yet is made (only for the commands that create databases);
    otherwise a missing SQLite file, or a database without Equipoise's tables, is a UserError. A database that
    cannot be reached is a one-line UserError too. ``announce``: say on stderr when a new database is made.
    """
    full = normalize_url(url or default_database_url())
    file = _sqlite_file(full)
    if announce and file is not None and not file.exists():
        error_console.print(f"creating a new database at {file}", markup=False)
    if file is not None and not create:
        if not file.exists():
            raise UserError(f"--db: no database at {file}: the file does not exist (a mistyped path?); {where_hint()}; "
                            f"{_CREATE_HINT}")
        if file.is_dir():
            raise UserError(f"--db: {file} is a directory, not a database file")
    db = Database(full)
    try:
        if not create and current_revision(db) is None:
            db.dispose()
            raise UserError(f"--db: {shown_url(full)} is not an Equipoise database (it has no Equipoise tables); "
                            f"{_CREATE_HINT}")
        if migrate:
            upgrade(db)
    except (OperationalError, DBAPIError) as exc:
        db.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None and str(exc.orig).strip() else \
            type(exc).__name__
        raise UserError(f"--db: cannot use the database {shown_url(full)}: {reason}") from None
    note_opened_database(db.url)
    return db
