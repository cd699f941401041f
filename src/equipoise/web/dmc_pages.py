"""The monitoring committee's pages: the closed report (by arm) with the interim decision and its boundary plot,
and the open report for the steering committee (pooled, no arm).

The data are read exactly as ``equipoise report dmc --trial`` reads them: through the export service, as the
signed-in user, audited with the report as its purpose; so the export service decides who gets arms (the
unblinded statistician and the committee in a blinded trial; a blinded statistician or a site role is refused
the closed report). Then ``analyze.report_inputs`` and ``report.build`` make the same HTML document as the
command, shown in the page in a frame (its own style sheet, untouched). The ``Server-Timing`` header gives the
time to read, analyse and draw.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from equipoise.analyze.report_inputs import InterimMonitoring, TrialData, closed_report_inputs, open_report_inputs
from equipoise.analyze.server_export import assign_looks, input_tables, read_export
from equipoise.errors import UserError
from equipoise.exports import ExportService
from equipoise.figures.svg import figure_svg
from equipoise.identity.principal import Principal
from equipoise.report import ReportOptions, closed_report, open_report
from equipoise.report.document import Report
from equipoise.services.trials import get_trial, protocol_of
from equipoise.web.access import PagePrincipal
from equipoise.web.core import core
from equipoise.web.pages import render
from equipoise.web.trial_pages import visible_trial

router = APIRouter(include_in_schema=False)

CLOSED_PURPOSE = "closed report for the data monitoring committee (web page)"
OPEN_PURPOSE = "open report for the steering committee (web page)"


@dataclass(frozen=True)
class TrialReport:
    report: Report | None  # None when the data cannot be reported yet (``problem`` says why)
    interim: InterimMonitoring | None
    problem: str | None
    seconds: float
    interim_problem: str | None = None  # why the group-sequential look could not be analysed (too few patients)


def trial_report(request: Request, principal: Principal, trial_id: str, *, closed: bool) -> TrialReport:
    """The closed (``closed``) or open report of the trial's current data, read through the export service as
    ``principal`` (its refusal, a ForbiddenError, is the page's refusal)."""
    started = time.perf_counter()
    db = core(request).db
    with db.read() as s:
        protocol = protocol_of(get_trial(s, trial_id))
    bundle = ExportService(db).export(principal, trial_id, fmt="csv", unblinded=closed, raw_csv=True,
                                      purpose=CLOSED_PURPOSE if closed else OPEN_PURPOSE,
                                      tables=input_tables(protocol))
    interim_problem = None
    try:
        export = read_export(bundle.files, protocol, f"trial {trial_id}")
        if closed:
            export.require_arms("the closed report")
        patients = assign_looks(export.patients, protocol, [])
        data = TrialData(patients, export.screening, export.adverse_events)
        options = ReportOptions(data_source=f"trial server export of trial {trial_id} for {principal.username}")
        if closed:
            try:
                inputs = closed_report_inputs(protocol, data, cutoff=options.cutoff(), prior_sd=options.prior_sd,
                                              important_or=options.important_or, cp_futility=options.cp_futility)
            except UserError as no_look:
                # the look's estimate may not exist yet (too few patients or events): the command stops there;
                # the page shows the rest of the report (the same without its interim section) and says why
                interim_problem = str(no_look)
                data = TrialData(patients.drop(columns="look"), export.screening, export.adverse_events)
                inputs = closed_report_inputs(protocol, data, cutoff=options.cutoff(), prior_sd=options.prior_sd,
                                              important_or=options.important_or, cp_futility=options.cp_futility)
            report, interim = closed_report(protocol, data, inputs, options), inputs.interim
        else:
            report = open_report(protocol, data, open_report_inputs(protocol, data, cutoff=options.cutoff()),
                                 options)
            interim = None
    except UserError as problem:
        return TrialReport(None, None, str(problem), time.perf_counter() - started)
    return TrialReport(report, interim, None, time.perf_counter() - started, interim_problem)


def _timed(response: HTMLResponse, built: TrialReport, started: float) -> HTMLResponse:
    response.headers["Server-Timing"] = (f"report;dur={1000 * built.seconds:.1f}, "
                                         f"page;dur={1000 * (time.perf_counter() - started):.1f}")
    return response


@router.get("/trials/{trial_id}/reports/closed", response_class=HTMLResponse)
def closed_report_page(request: Request, trial_id: str, principal: PagePrincipal) -> Response:
    started = time.perf_counter()
    trial = visible_trial(request, principal, trial_id)
    built = trial_report(request, principal, trial_id, closed=True)
    interim = built.interim
    boundary = figure_svg(interim.result.plot()) if interim is not None else None
    return _timed(render(request, "dmc_report.html", principal=principal, trial_id=trial_id,
                         trial_title=trial.title, closed=True, built=built, interim=interim, boundary=boundary),
                  built, started)


@router.get("/trials/{trial_id}/reports/open", response_class=HTMLResponse)
def open_report_page(request: Request, trial_id: str, principal: PagePrincipal) -> Response:
    started = time.perf_counter()
    trial = visible_trial(request, principal, trial_id)
    built = trial_report(request, principal, trial_id, closed=False)
    return _timed(render(request, "dmc_report.html", principal=principal, trial_id=trial_id,
                         trial_title=trial.title, closed=False, built=built, interim=None, boundary=None),
                  built, started)
