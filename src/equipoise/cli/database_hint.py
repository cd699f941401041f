"""Which database a command opened, and what to try when the trial asked for is not in it.

Kept apart from ``database_option`` (which imports SQLAlchemy and the store) so that the entry point can add the
hint to a "no trial" message without loading the database layer for every command.
"""

from __future__ import annotations

from pathlib import Path

# Where `make run` (equipoise demo --data-dir .equipoise-demo) keeps its database, relative to the checkout.
DEMO_DATABASE = Path(".equipoise-demo") / "equipoise.sqlite3"

# The database this command opened, for the hint after "no trial ..." (one command per process).
_opened: list[str] = []


def where_hint() -> str:
    """What to try when the database opened is not the one holding the trial."""
    hint = "give the database with --db URL or $EQUIPOISE_DATABASE_URL"
    if DEMO_DATABASE.exists():
        hint += f" (the demo of `make run` is --db sqlite:///{DEMO_DATABASE})"
    return hint


def note_opened_database(url: str) -> None:
    _opened.append(url)


def forget_opened_database() -> None:
    """A new command starts (the tests run several in one process)."""
    _opened.clear()


def opened_database() -> str | None:
    """The URL of the database this command opened (None before any)."""
    return _opened[-1] if _opened else None
