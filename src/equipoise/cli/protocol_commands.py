"""``equipoise protocol``: validate, show and describe protocol files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

from equipoise.cli.output import JsonOption, console, print_json, print_plain
from equipoise.cli.protocol_view import render_protocol
from equipoise.errors import UserError
from equipoise.evidence.protocol_registration import registration_record
from equipoise.protocol import Protocol, load_protocol, validate_file

protocol_app = typer.Typer(help="Validate, show and describe protocol files.", no_args_is_help=True)


@protocol_app.command("validate")
def validate(
    files: list[Path] = typer.Argument(..., help="Protocol files (YAML)."),
    as_json: bool = JsonOption,
) -> None:
    """Check protocol files; list every problem as file:line field: message. Exit 2 if any is invalid."""
    reports = [validate_file(f) for f in files]
    if as_json:
        print_json({"valid": all(r.valid for r in reports), "files": [r.to_dict() for r in reports]})
    else:
        for report in reports:
            if report.valid:
                note = f" ({len(report.warnings)} warning(s))" if report.warnings else ""
                console.print(f"[green]✓[/green] {report.file}: valid{note}", highlight=False)
                for warning in report.warnings:
                    print_plain(f"  {warning}")
            else:
                for problem in report.problems:
                    print_plain(str(problem))
    if not all(r.valid for r in reports):
        raise typer.Exit(2)


@protocol_app.command("show")
def show(
    file: Path = typer.Argument(..., help="Protocol file (YAML)."),
    on: str | None = typer.Option(None, "--on", help="Show the protocol in force on this date (YYYY-MM-DD); "
                                  "default: today."),
    as_json: bool = JsonOption,
) -> None:
    """Print a readable summary of the protocol in force on a date."""
    from equipoise.cli.output import parse_date

    protocol = load_protocol(file)
    date = parse_date(on, "--on") if on is not None else dt.datetime.now(dt.UTC).date()
    in_force = _in_force(protocol, date)
    if as_json:
        print_json({"in_force_on": date.isoformat(), "version": in_force.trial.version,
                    "protocol": in_force.summary_dict()})
        return
    render_protocol(protocol, in_force, date, console)


@protocol_app.command("schema")
def schema(
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the schema to this file."),
) -> None:
    """Print the JSON Schema of the protocol file format (for editors and other tools)."""
    text = json.dumps(Protocol.model_json_schema(), indent=2)
    if output is None:
        print_plain(text)
    else:
        try:
            output.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:  # a directory, a missing folder, no permission
            raise UserError(f"--output: cannot write {output} ({exc.strerror or exc})") from None
        print_plain(f"wrote {output}")


@protocol_app.command("registration")
def registration(
    file: Path = typer.Argument(..., help="Protocol file (YAML)."),
    nct_id: str | None = typer.Option(None, "--nct-id", help="The NCT number, when the protocol lists none."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the record to this file."),
    as_json: bool = JsonOption,
) -> None:
    """Export the protocol as a ClinicalTrials.gov API v2 registration record (JSON)."""
    if nct_id is not None and not (nct_id.startswith("NCT") and nct_id[3:].isdigit() and len(nct_id) == 11):
        raise UserError(f"--nct-id: {nct_id!r} is not an NCT number (NCT and 8 digits)")
    record = registration_record(load_protocol(file), nct_id)
    if output is not None:
        output.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        print_plain(f"wrote {output}")
    else:  # the record is JSON with or without --json (accepted for symmetry with the other commands)
        print_json(record)


def _in_force(protocol: Protocol, date: dt.date) -> Protocol:
    try:
        return protocol.in_force(date)
    except ValueError as exc:
        raise UserError(f"--on: {exc}") from None
