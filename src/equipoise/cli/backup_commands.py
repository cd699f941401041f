"""``equipoise backup``: back up a trial database to one file, check a backup, restore one (SEC-1)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from equipoise.cli.database_option import DbOption, open_database
from equipoise.cli.output import JsonOption, error_console, print_json, print_plain, print_report
from equipoise.errors import UserError
from equipoise.user_files import require_regular_file

backup_app = typer.Typer(help="Back up, check and restore a trial database.", no_args_is_help=True)
PASSPHRASE_HELP = ("the passphrase comes from $EQUIPOISE_BACKUP_PASSPHRASE or is asked for (never on the command "
                   "line, where other users of the machine could read it)")


def _passphrase(confirm: bool) -> str:
    """The backup passphrase: from the environment (scripts, cron), else typed at a prompt."""
    from equipoise.integrity.backup_crypto import PASSPHRASE_ENV

    given = os.environ.get(PASSPHRASE_ENV)
    if given:
        return given
    if not sys.stdin.isatty():
        raise UserError(f"set ${PASSPHRASE_ENV} to the backup passphrase (no terminal to ask it at)")
    return str(typer.prompt("Backup passphrase", hide_input=True, confirmation_prompt=confirm))


def _passphrase_if_encrypted(path: Path) -> str | None:
    from equipoise.integrity.backup_crypto import is_encrypted

    require_regular_file(path)  # /dev/zero or a FIFO would never end
    return _passphrase(confirm=False) if is_encrypted(path) else None


@contextmanager
def _progress(enabled: bool, what: str, total_rows: int | None = None, after: str = "") -> Iterator[Any]:
    """A Rich progress bar on stderr fed by the store's (table, rows so far) hook: rows done of ``total_rows``
    when known (a check or restore reads the manifest first), else a spinner with the rows so far; once every
    row is in, ``after`` says what runs next (the audit trail and the allocations), so the bar never sits still
    on the last table."""
    if not enabled:
        yield None
        return
    columns = (SpinnerColumn(), TextColumn(what + " {task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=error_console, transient=True) as bar:
        task = bar.add_task("", total=total_rows)
        per_table: dict[str, int] = {}

        def hook(table: str, rows: int) -> None:
            per_table[table] = rows
            done = sum(per_table.values())
            label = f"{table}: {rows} rows"
            if total_rows is not None and done >= total_rows and after:
                label = after
            bar.update(task, completed=done, description=label)

        yield hook


@contextmanager
def _status(enabled: bool, what: str) -> Iterator[None]:
    """A spinner for a step that reports nothing while it runs (checking every checksum)."""
    if not enabled:
        yield
        return
    with error_console.status(what):
        yield


@backup_app.command("create")
def create_command(output: Path = typer.Argument(..., help="The backup file to write (it must not exist)."),
                   db: str | None = DbOption, as_json: bool = JsonOption,
                   encrypt: bool = typer.Option(False, "--encrypt", help="Seal the file with AES-256-GCM under a "
                                                "passphrase; " + PASSPHRASE_HELP + ".")) -> None:
    """Write every table to one file in one consistent snapshot; the server may keep running.

    The file holds everything, password hashes and allocation secrets included: keep it as safe as the
    database (it is written readable by its owner only), and encrypt it (--encrypt) before it leaves the
    server."""
    from equipoise.integrity.backup import create_backup

    database = open_database(db)
    passphrase = _passphrase(confirm=True) if encrypt else None
    with _progress(not as_json, "backing up") as hook:
        manifest = create_backup(database, output, hook, passphrase=passphrase)
    if as_json:
        print_json({"file": str(output), **manifest.to_dict()})
    else:
        print_plain(f"{output}: {manifest.rows} rows of {len(manifest.tables)} tables, schema "
                    f"{manifest.schema_revision}, audit head {str(manifest.audit_head.get('last_hash', ''))[:16]}…")


@backup_app.command("check")
def check_command(backup: Path = typer.Argument(..., help="A backup file."), as_json: bool = JsonOption,
                  quick: bool = typer.Option(False, "--quick", help="Only the checksums; no restore drill.")) -> None:
    """Check every checksum, then restore into a temporary database and verify the audit trail and every
    allocation (a restore drill); exit 1 if anything is wrong. An encrypted backup needs its passphrase."""
    from equipoise.integrity.backup import check_backup, restore_backup
    from equipoise.store.db import Database

    passphrase = _passphrase_if_encrypted(backup)
    with _status(not as_json, "checking every checksum"):
        manifest = check_backup(backup, passphrase)
    if quick:
        if as_json:
            print_json({"ok": True, "file": str(backup), **manifest.to_dict()})
        else:
            print_plain(f"{backup}: {manifest.rows} rows, every checksum matches")
        return
    with tempfile.TemporaryDirectory() as scratch:
        drill = Database(f"sqlite:///{scratch}/drill.sqlite3")
        try:
            with _progress(not as_json, "restore drill", manifest.rows,
                           "checking audit trail, allocations") as hook:
                report = restore_backup(drill, backup, hook, passphrase=passphrase)
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
    clean). An encrypted backup needs its passphrase."""
    from equipoise.integrity.backup import restore_backup

    passphrase = _passphrase_if_encrypted(backup)
    database = open_database(db, create=True, migrate=False)
    with _progress(not as_json, "restoring") as hook:
        report = restore_backup(database, backup, hook, passphrase=passphrase)
    print_report(report, as_json)
