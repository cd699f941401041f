"""``equipoise report``: the monitoring committee's closed report and the open report, as HTML (and PDF)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import tempfile
from pathlib import Path

import typer

from equipoise.cli.data_input import read_csv
from equipoise.cli.output import JsonOption, parse_date, print_json, print_plain
from equipoise.errors import UserError

report_app = typer.Typer(help="Reports for the data monitoring committee: closed (by arm) and open (pooled).",
                         no_args_is_help=True)

ProtocolArg = typer.Option(..., "--protocol", help="Protocol file (YAML).")
DataOpt = typer.Option(..., "--data", help="Patients CSV, one row per randomised patient.")
ScreeningOpt = typer.Option(None, "--screening", help="Screening log CSV (not randomised, with 'reason').")
AeOpt = typer.Option(None, "--adverse-events", help="Serious adverse events CSV (patient_id, term, grade, related).")
OutputOpt = typer.Option(..., "--output", "-o", help="HTML file to write.")
PdfOpt = typer.Option(None, "--pdf", help="Also write a PDF (needs Chromium: Debian package 'chromium').")
DateOpt = typer.Option(None, "--date", help="Report date (YYYY-MM-DD; default today).")
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


def _build(kind: str, protocol: Path, data: Path, screening: Path | None, adverse_events: Path | None, output: Path,
           pdf: Path | None, date: str | None, arm: str, as_json: bool) -> None:
    from equipoise.protocol import load_protocol
    from equipoise.report import ReportOptions, TrialData, closed_report, open_report

    proto = load_protocol(protocol)
    trial = TrialData(read_csv(data), read_csv(screening, "--screening") if screening else None,
                      read_csv(adverse_events, "--adverse-events") if adverse_events else None, arm)
    options = ReportOptions(report_date=parse_date(date, "--date") if date else dt.date.today())
    report = (closed_report if kind == "closed" else open_report)(proto, trial, options)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report.html, encoding="utf-8")
    written = [str(output)]
    if pdf is not None:
        html_to_pdf(output, pdf)
        written.append(str(pdf))
    if as_json:
        print_json({**report.to_dict(), "written": written})
    else:
        print_plain(f"{report}\nwrote {', '.join(written)}")


@report_app.command("dmc")
def dmc(protocol: Path = ProtocolArg, data: Path = DataOpt, screening: Path | None = ScreeningOpt,
        adverse_events: Path | None = AeOpt, output: Path = OutputOpt, pdf: Path | None = PdfOpt,
        date: str | None = DateOpt, arm: str = ArmOpt, as_json: bool = JsonOption) -> None:
    """The closed report for the data monitoring committee: every result by arm, with the interim decision."""
    _build("closed", protocol, data, screening, adverse_events, output, pdf, date, arm, as_json)


@report_app.command("open")
def open_(protocol: Path = ProtocolArg, data: Path = DataOpt, screening: Path | None = ScreeningOpt,
          adverse_events: Path | None = AeOpt, output: Path = OutputOpt, pdf: Path | None = PdfOpt,
          date: str | None = DateOpt, arm: str = ArmOpt, as_json: bool = JsonOption) -> None:
    """The open report (pooled data, no comparison by arm) for the blinded trial team."""
    _build("open", protocol, data, screening, adverse_events, output, pdf, date, arm, as_json)
