"""``equipoise export``: a trial's data as CSV files (with a data dictionary and analysis.csv), as Parquet files
(the same tables with typed columns) and as CDISC ODM 1.3.2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from equipoise.cli.database_option import DbOption, open_database
from equipoise.cli.output import JsonOption, print_json, print_plain


class FormatGroup(TyperGroup):
    """``equipoise export FORMAT ...``: an unknown format is answered with the formats there are."""

    # Any: Typer's context and command classes live in its private copy of click
    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and not args[0].startswith("-") and self.get_command(ctx, args[0]) is None:
            ctx.fail(f"no export format {args[0]!r} (formats: {', '.join(self.list_commands(ctx))})")
        return super().resolve_command(ctx, args)


export_app = typer.Typer(cls=FormatGroup, no_args_is_help=True,
                         help="Export a trial's data (CSV, Parquet, CDISC ODM 1.3.2); every export is audited.")

OutputOption = typer.Option(..., "--output", "-o", help="Directory to write the files to (created if needed).")
UnblindedOption = typer.Option(False, "--unblinded", help="Show arms (blinded trials mask them: 'masked').")
SiteOption = typer.Option(None, "--site", help="Only this site's patients.")
RawCsvOption = typer.Option(False, "--raw-csv", help="Write text cells as stored, for analysis code; by default a "
                            "cell starting with =, +, -, @, tab or CR gets a leading ' so that a spreadsheet does "
                            "not run it as a formula (OWASP CSV injection). manifest.json's csv_cells says which.")


def _export(fmt: str, trial: str, output: Path, unblinded: bool, site: str | None, db: str | None,
            as_json: bool, raw_csv: bool = False) -> None:
    from equipoise.exports import ExportService
    from equipoise.identity.principal import system_principal

    bundle = ExportService(open_database(db)).export(system_principal(), trial, fmt=fmt, unblinded=unblinded,
                                                     site_id=site, raw_csv=raw_csv)
    bundle.write(output)
    if as_json:
        print_json({**bundle.to_dict(), "output": str(output)})
    else:
        print_plain(f"{bundle}\nwritten to {output}")


@export_app.command("csv")
def csv_command(trial: str = typer.Argument(..., help="Trial id."), output: Path = OutputOption,
                unblinded: bool = UnblindedOption, site: str | None = SiteOption, db: str | None = DbOption,
                as_json: bool = JsonOption, raw_csv: bool = RawCsvOption) -> None:
    """CSV: one file per form, patients, allocations, queries, signatures, audit trail, analysis.csv, dictionary."""
    _export("csv", trial, output, unblinded, site, db, as_json, raw_csv)


@export_app.command("parquet")
def parquet_command(trial: str = typer.Argument(..., help="Trial id."), output: Path = OutputOption,
                    unblinded: bool = UnblindedOption, site: str | None = SiteOption, db: str | None = DbOption,
                    as_json: bool = JsonOption) -> None:
    """Parquet: the CSV export's files with typed columns (integers, numbers, dates, UTC times, booleans, text)."""
    _export("parquet", trial, output, unblinded, site, db, as_json)


@export_app.command("dataset-json")
def dataset_json_command(trial: str = typer.Argument(..., help="Trial id."), output: Path = OutputOption,
                         unblinded: bool = UnblindedOption, site: str | None = SiteOption, db: str | None = DbOption,
                         as_json: bool = JsonOption) -> None:
    """CDISC Dataset-JSON 1.1: the CSV export's tables as <name>.json, typed, with the ODM file's OIDs."""
    _export("dataset-json", trial, output, unblinded, site, db, as_json)


@export_app.command("odm")
def odm_command(trial: str = typer.Argument(..., help="Trial id."), output: Path = OutputOption,
                unblinded: bool = UnblindedOption, site: str | None = SiteOption, db: str | None = DbOption,
                as_json: bool = JsonOption) -> None:
    """CDISC ODM 1.3.2: odm.xml (snapshot with audit records) and odm_audit.xml (every change)."""
    _export("odm", trial, output, unblinded, site, db, as_json)


@export_app.command("all")
def all_command(trial: str = typer.Argument(..., help="Trial id."), output: Path = OutputOption,
                unblinded: bool = UnblindedOption, site: str | None = SiteOption, db: str | None = DbOption,
                as_json: bool = JsonOption, raw_csv: bool = RawCsvOption) -> None:
    """CSV, Parquet and ODM together, with manifest.json (file hashes, arms shown or masked)."""
    _export("all", trial, output, unblinded, site, db, as_json, raw_csv)
