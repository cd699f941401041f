"""Entry point of the ``equipoise`` command."""

from __future__ import annotations

import os
import sys
import traceback

import typer

from equipoise import __version__
from equipoise.cli.allocation_commands import allocation_app
from equipoise.cli.analyze_commands import analyze_app
from equipoise.cli.audit_commands import audit_app
from equipoise.cli.backup_commands import backup_app
from equipoise.cli.database_option import forget_opened_database, opened_database, where_hint
from equipoise.cli.design_commands import design_app
from equipoise.cli.evidence_commands import evidence_app
from equipoise.cli.export_commands import export_app
from equipoise.cli.forms_commands import forms_app
from equipoise.cli.output import error_console
from equipoise.cli.protocol_commands import protocol_app
from equipoise.cli.report_commands import report_app
from equipoise.cli.serve_commands import demo, serve
from equipoise.cli.simulate_commands import simulate_app
from equipoise.cli.trial_commands import trial_app
from equipoise.cli.user_commands import user_app
from equipoise.errors import UserError
from equipoise.store.errors import NotFoundError

app = typer.Typer(
    name="equipoise",
    help="Equipoise: design, simulate, run, monitor and synthesise randomized trials from one protocol file.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(protocol_app, name="protocol")
app.add_typer(design_app, name="design")
app.add_typer(analyze_app, name="analyze")
app.add_typer(report_app, name="report")
app.add_typer(simulate_app, name="simulate")
app.command("serve")(serve)
app.command("demo")(demo)
app.add_typer(trial_app, name="trial")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.add_typer(backup_app, name="backup")
app.add_typer(allocation_app, name="allocation")
app.add_typer(forms_app, name="forms")
app.add_typer(export_app, name="export")
app.add_typer(evidence_app, name="evidence")


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
        app(args=argv, prog_name="equipoise")
    except UserError as exc:
        message = str(exc)
        database = opened_database()
        if isinstance(exc, NotFoundError) and message.startswith("no trial") and database is not None:
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
