"""``equipoise report``: the monitoring committee's closed report and the open report, as HTML (and PDF)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from equipoise.cli.data_input import read_csv
from equipoise.cli.database_option import DbOption
from equipoise.cli.output import JsonOption, error_console, parse_date, print_json, print_plain
from equipoise.cli.server_data import LookDatesOpt, ServerOpt, TrialOpt
from equipoise.errors import UserError

report_app = typer.Typer(help="Reports for the data monitoring committee: closed (by arm) and open (pooled).",
                         no_args_is_help=True)

ProtocolArg = typer.Option(None, "--protocol", help="Protocol file (YAML); with --trial, the server's protocol.")
DataOpt = typer.Option(None, "--data", help="Patients CSV, one row per randomised patient, or an export directory or "
                                            "zip ('equipoise export csv': screening log and adverse events included).")
ScreeningOpt = typer.Option(None, "--screening", help="Screening log CSV (not randomised, with 'reason').")
AeOpt = typer.Option(None, "--adverse-events", help="Serious adverse events CSV (patient_id, term, grade, related).")
OutputOpt = typer.Option(..., "--output", "-o", help="HTML file to write.")
PdfOpt = typer.Option(None, "--pdf", help="Also write a PDF (needs Chromium: Debian package 'chromium').")
DateOpt = typer.Option(None, "--date", help="Report date (YYYY-MM-DD; default today in UTC).")
ArmOpt = typer.Option("arm", "--arm", help="Column holding each patient's arm.")


def html_to_pdf(html_path: Path, pdf_path: Path) -> None:
    """Print an HTML file to PDF with headless Chromium (the only PDF engine we rely on)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        raise UserError("--pdf: no PDF engine found (install Debian's 'chromium'); the HTML report was written")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
               f"--user-data-dir={profile}", f"--print-to-pdf={pdf_path.resolve()}", html_path.resolve().as_uri()]
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=180)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise UserError(f"--pdf: Chromium could not print the report ({type(exc).__name__})") from None
    if not pdf_path.exists() or pdf_path.stat().st_size == 0:
        raise UserError("--pdf: Chromium wrote no PDF")


@dataclass(frozen=True)
class Source:
    """Where the report's data come from: files, an export, or the trial server (--trial)."""

    protocol: Path | None
    data: Path | None
    trial: str | None
    db: str | None
    server: str | None
    look_dates: str | None


def _build(kind: str, source: Source, screening: Path | None, adverse_events: Path | None, output: Path,
           pdf: Path | None, date: str | None, arm: str, as_json: bool) -> None:
    with _steps(not as_json, 3 if pdf is not None else 2) as step:
        step("reading the data")
        _build_steps(kind, source, screening, adverse_events, output, pdf, date, arm, as_json, step)


@contextmanager
def _steps(enabled: bool, total: int) -> Iterator[Callable[[str], None]]:
    """A Rich progress bar on stderr over the report's steps (the PDF alone takes Chromium several seconds)."""
    if not enabled:
        yield lambda _what: None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=error_console, transient=True) as bar:
        task = bar.add_task("", total=total)
        started = [0]

        def step(what: str) -> None:
            bar.update(task, completed=started[0], description=what)
            started[0] += 1

        yield step


def _build_steps(kind: str, source: Source, screening: Path | None, adverse_events: Path | None, output: Path,
                 pdf: Path | None, date: str | None, arm: str, as_json: bool, step: Callable[[str], None]) -> None:
    from equipoise.analyze.report_inputs import TrialData, closed_report_inputs, open_report_inputs
    from equipoise.cli.server_data import export_provenance, look_dates, resolve, with_looks
    from equipoise.report import ReportOptions, closed_report, open_report

    for option, path in (("--output", output), ("--pdf", pdf)):
        if path is not None and path.is_dir():
            raise UserError(f"{option}: {path} is a directory; name the file to write (e.g. {path / 'dmc.html'})")
    closed = kind == "closed"
    purpose = "the closed report for the data monitoring committee" if closed else "the open report"
    # the closed report compares arms (an unblinded export); the open report is for the blinded team
    proto, export, csv_path = resolve(protocol_file=source.protocol, data=source.data, trial=source.trial,
                                      db=source.db, server=source.server, unblinded=closed, purpose=purpose,
                                      what=f"report {'dmc' if closed else 'open'}")
    if export is not None:
        if closed:
            export.require_arms("the closed report")
        export = with_looks(export, proto, look_dates(source.look_dates))
        patients, screening_df, events_df = export.patients, export.screening, export.adverse_events
    else:
        if source.look_dates is not None:
            raise UserError("--look-dates: only with server data (--trial or an export); a CSV has its look column")
        assert csv_path is not None
        patients, screening_df, events_df = read_csv(csv_path), None, None
    events = read_csv(adverse_events, "--adverse-events", ("patient_id",)) if adverse_events else events_df
    trial = TrialData(patients, read_csv(screening, "--screening") if screening else screening_df, events, arm)
    cutoff, provenance = export_provenance(export.manifest) if export is not None else (None, None)
    options = ReportOptions(report_date=parse_date(date, "--date") if date else None, data_cutoff=cutoff,
                            data_source=provenance)
    step("analysing and drawing the report")
    if closed:
        report = closed_report(proto, trial, closed_report_inputs(
            proto, trial, cutoff=options.cutoff(), prior_sd=options.prior_sd, important_or=options.important_or,
            cp_futility=options.cp_futility), options)
    else:
        report = open_report(proto, trial, open_report_inputs(proto, trial, cutoff=options.cutoff()), options)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(report.html, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--output: cannot write {output} ({exc.strerror or exc})") from None
    written = [str(output)]
    if pdf is not None:
        step("printing the PDF with Chromium")
        html_to_pdf(output, pdf)
        written.append(str(pdf))
    if as_json:
        print_json({**report.to_dict(), "written": written})
    else:
        print_plain(f"{report}\nwrote {', '.join(written)}")


@report_app.command("dmc")
def dmc(protocol: Path | None = ProtocolArg, data: Path | None = DataOpt, trial: str | None = TrialOpt,
        db: str | None = DbOption, server: str | None = ServerOpt, look_dates: str | None = LookDatesOpt,
        screening: Path | None = ScreeningOpt, adverse_events: Path | None = AeOpt, output: Path = OutputOpt,
        pdf: Path | None = PdfOpt, date: str | None = DateOpt, arm: str = ArmOpt, as_json: bool = JsonOption) -> None:
    """The closed report for the data monitoring committee: every result by arm, with the interim decision.

    With --trial the data are the trial server's, read as an unblinded export (audited, with this purpose)."""
    _build("closed", Source(protocol, data, trial, db, server, look_dates), screening, adverse_events, output, pdf,
           date, arm, as_json)


@report_app.command("open")
def open_(protocol: Path | None = ProtocolArg, data: Path | None = DataOpt, trial: str | None = TrialOpt,
          db: str | None = DbOption, server: str | None = ServerOpt, look_dates: str | None = LookDatesOpt,
          screening: Path | None = ScreeningOpt, adverse_events: Path | None = AeOpt, output: Path = OutputOpt,
          pdf: Path | None = PdfOpt, date: str | None = DateOpt, arm: str = ArmOpt, as_json: bool = JsonOption
          ) -> None:
    """The open report (pooled data, no comparison by arm) for the blinded trial team.

    With --trial the data are the trial server's, read as a blinded export (arms masked)."""
    _build("open", Source(protocol, data, trial, db, server, look_dates), screening, adverse_events, output, pdf,
           date, arm, as_json)
