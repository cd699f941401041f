"""``equipoise export``: a trial's data as CSV files (with a data dictionary and analysis.csv) and CDISC ODM 1.3.2."""

from __future__ import annotations

from pathlib import Path

import typer

from equipoise.cli.database_option import DbOption, open_database
from equipoise.cli.output import JsonOption, print_json, print_plain

export_app = typer.Typer(help="Export a trial's data (CSV, CDISC ODM 1.3.2); every export is audited.",
                         no_args_is_help=True)

OutputOption = typer.Option(..., "--output", "-o", help="Directory to write the files to (created if needed).")
UnblindedOption = typer.Option(False, "--unblinded", help="Show arms (blinded trials mask them: 'masked').")
SiteOption = typer.Option(None, "--site", help="Only this site's patients.")


def _export(fmt: str, trial: str, output: Path, unblinded: bool, site: str | None, db: str | None,
            as_json: bool) -> None:
    from equipoise.store.exports import ExportService
    from equipoise.store.principal import system_principal

    bundle = ExportService(open_database(db)).export(system_principal(), trial, fmt=fmt, unblinded=unblinded,
                                                     site_id=site)
    bundle.write(output)
    if as_json:
        print_json({**bundle.to_dict(), "output": str(output)})
    else:
        print_plain(f"{bundle}\nwritten to {output}")


@export_app.command("csv")
def csv_command(trial: str = typer.Argument(..., help="Trial id."), output: Path = OutputOption,
                unblinded: bool = UnblindedOption, site: str | None = SiteOption, db: str | None = DbOption,
                as_json: bool = JsonOption) -> None:
    """CSV: one file per form, patients, allocations, queries, signatures, audit trail, analysis.csv, dictionary."""
    _export("csv", trial, output, unblinded, site, db, as_json)


@export_app.command("odm")
def odm_command(trial: str = typer.Argument(..., help="Trial id."), output: Path = OutputOption,
                unblinded: bool = UnblindedOption, site: str | None = SiteOption, db: str | None = DbOption,
                as_json: bool = JsonOption) -> None:
    """CDISC ODM 1.3.2: odm.xml (snapshot with audit records) and odm_audit.xml (every change)."""
    _export("odm", trial, output, unblinded, site, db, as_json)


@export_app.command("all")
def all_command(trial: str = typer.Argument(..., help="Trial id."), output: Path = OutputOption,
                unblinded: bool = UnblindedOption, site: str | None = SiteOption, db: str | None = DbOption,
                as_json: bool = JsonOption) -> None:
    """CSV and ODM together, with manifest.json (file hashes, arms shown or masked)."""
    _export("all", trial, output, unblinded, site, db, as_json)
