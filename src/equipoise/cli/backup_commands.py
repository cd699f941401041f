"""``equipoise backup``: back up a trial database to one file, check a backup, restore one (SEC-1)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress, TextColumn, TimeElapsedColumn

from equipoise.cli.database_option import DbOption, open_database
from equipoise.cli.output import JsonOption, error_console, print_json, print_plain, print_report

backup_app = typer.Typer(help="Back up, check and restore a trial database.", no_args_is_help=True)


@contextmanager
def _progress(enabled: bool, what: str) -> Iterator[Any]:
    """A Rich status line on stderr: the table being read or written and its rows so far."""
    if not enabled:
        yield None
        return
    with Progress(TextColumn(what + " {task.description}"), TimeElapsedColumn(), console=error_console,
                  transient=True) as bar:
        task = bar.add_task("", total=None)

        def hook(table: str, rows: int) -> None:
            bar.update(task, description=f"{table}: {rows} rows")

        yield hook


@backup_app.command("create")
def create_command(output: Path = typer.Argument(..., help="The backup file to write (it must not exist)."),
                   db: str | None = DbOption, as_json: bool = JsonOption) -> None:
    """Write every table to one file in one consistent snapshot; the server may keep running.

    The file holds everything, password hashes and allocation secrets included: keep it as safe as the
    database (it is written readable by its owner only)."""
    from equipoise.store.backup import create_backup

    database = open_database(db)
    with _progress(not as_json, "backing up") as hook:
        manifest = create_backup(database, output, hook)
    if as_json:
        print_json({"file": str(output), **manifest.to_dict()})
    else:
        print_plain(f"{output}: {manifest.rows} rows of {len(manifest.tables)} tables, schema "
                    f"{manifest.schema_revision}, audit head {str(manifest.audit_head.get('last_hash', ''))[:16]}…")


@backup_app.command("check")
def check_command(backup: Path = typer.Argument(..., help="A backup file."), as_json: bool = JsonOption,
                  quick: bool = typer.Option(False, "--quick", help="Only the checksums; no restore drill.")) -> None:
    """Check every checksum, then restore into a temporary database and verify the audit trail and every
    allocation (a restore drill); exit 1 if anything is wrong."""
    from equipoise.store.backup import check_backup, restore_backup
    from equipoise.store.db import Database

    manifest = check_backup(backup)
    if quick:
        if as_json:
            print_json({"ok": True, "file": str(backup), **manifest.to_dict()})
        else:
            print_plain(f"{backup}: {manifest.rows} rows, every checksum matches")
        return
    with tempfile.TemporaryDirectory() as scratch:
        drill = Database(f"sqlite:///{scratch}/drill.sqlite3")
        try:
            with _progress(not as_json, "restore drill") as hook:
                report = restore_backup(drill, backup, hook)
        finally:
            drill.dispose()
    if as_json:
        print_json({"file": str(backup), **report.to_dict()})
    else:
        print_plain(f"{backup}: every checksum matches; restore drill:\n{report}")
    if not report.ok:
        raise typer.Exit(1)


@backup_app.command("restore")
def restore_command(backup: Path = typer.Argument(..., help="A backup file."), db: str | None = DbOption,
                    as_json: bool = JsonOption) -> None:
    """Restore a backup into an empty database (SQLite or PostgreSQL, whichever made it); nothing is written
    unless every checksum matches; then verify the audit trail and replay every allocation (exit 1 if not
    clean)."""
    from equipoise.store.backup import restore_backup
    from equipoise.store.db import Database

    database = Database(db)
    with _progress(not as_json, "restoring") as hook:
        report = restore_backup(database, backup, hook)
    print_report(report, as_json)
