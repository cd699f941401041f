"""Entry point of the ``equipoise`` command."""

from __future__ import annotations

import os
import sys
import traceback
import warnings

import typer

from equipoise import __version__
from equipoise.cli.database_hint import forget_opened_database, opened_database, where_hint
from equipoise.cli.lazy_group import LazyCommand, LazyGroup
from equipoise.cli.output import error_console
from equipoise.errors import UserError

_CLI = "equipoise.cli."
# name -> where it is defined and its one-line help (tests/cli/test_startup.py checks each is the command's own)
COMMANDS = {
    "serve": LazyCommand(_CLI + "serve_commands", "serve",
                         "Run the trial server (JSON API; schema at /openapi.json, browsable at /docs)."),
    "demo": LazyCommand(_CLI + "serve_commands", "demo_app",
                        "Set up a demo (embedded SQLite or --db, the demo trial with virtual patients, one user per "
                        "role) and run the server."),
    "protocol": LazyCommand(_CLI + "protocol_commands", "protocol_app", "Validate, show and describe protocol files."),
    "design": LazyCommand(_CLI + "design_commands", "design_app",
                          "Sample size, power and group-sequential boundaries (validated against rpact)."),
    "analyze": LazyCommand(_CLI + "analyze_commands", "analyze_app",
                           "Analyse trial data: binary, ordinal, time-to-event and continuous outcomes, the "
                           "protocol's pre-specified analyses, and interim monitoring."),
    "report": LazyCommand(_CLI + "report_commands", "report_app",
                          "Reports for the data monitoring committee: closed (by arm) and open (pooled)."),
    "simulate": LazyCommand(_CLI + "simulate_commands", "simulate_app",
                            "Simulate designs on virtual patients: type I error, power, sample size, claims."),
    "trial": LazyCommand(_CLI + "trial_commands", "trial_app", "Activate and list trials on the server's database."),
    "user": LazyCommand(_CLI + "user_commands", "user_app", "Add users and give them roles."),
    "audit": LazyCommand(_CLI + "audit_commands", "audit_app", "Verify the audit trail; rotate its key."),
    "backup": LazyCommand(_CLI + "backup_commands", "backup_app", "Back up, check and restore a trial database."),
    "allocation": LazyCommand(_CLI + "allocation_commands", "allocation_app",
                              "Replay allocations; generate a randomization list to upload."),
    "forms": LazyCommand(_CLI + "forms_commands", "forms_app",
                         "Track case report forms: due, overdue, incomplete, open queries."),
    "export": LazyCommand(_CLI + "export_commands", "export_app",
                          "Export a trial's data (CSV, Parquet, CDISC ODM 1.3.2); every export is audited."),
    "evidence": LazyCommand(_CLI + "evidence_commands", "evidence_app",
                            "Synthesise the evidence: registries, meta-analysis, trial sequential analysis, "
                            "certainty."),
}


class EquipoiseGroup(LazyGroup):
    """The root group: every subcommand's module is imported when that subcommand runs (issue 18)."""

    lazy = COMMANDS


app = typer.Typer(
    name="equipoise",
    help="Equipoise: design, simulate, run, monitor and synthesise randomized trials from one protocol file.",
    cls=EquipoiseGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"equipoise {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Equipoise: design, simulate, run, monitor and synthesise randomized trials from one protocol file."""


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: user errors become a message on stderr and exit code 2, never a traceback.

    Usage errors (unknown option, missing argument) are reported by Typer itself, also with exit code 2.
    """
    forget_opened_database()
    try:
        with warnings.catch_warnings():
            # numpy's RuntimeWarnings (a division by zero on the way to a NaN that is then refused or reported
            # as NA) are not messages for the user: the result or the UserError says what happened
            warnings.simplefilter("ignore", RuntimeWarning)
            app(args=argv, prog_name="equipoise")
    except UserError as exc:
        message = str(exc)
        database = opened_database()
        if message.startswith("no trial") and database is not None:
            # The usual cause: the trial is in another database (the demo's, a server's PostgreSQL).
            message += f" in {database.split('@')[-1]}: {where_hint()}"
        for line in message.splitlines() or ["error"]:
            error_console.print(line, markup=False)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("EQUIPOISE_DEBUG"):
            traceback.print_exc()
        error_console.print(
            f"internal error: {type(exc).__name__}: {exc} (this is a bug in Equipoise; "
            "run with EQUIPOISE_DEBUG=1 to see the traceback and report it)",
            markup=False,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
