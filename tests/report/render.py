"""The two steps of a report as the ``equipoise report`` commands take them: run the analyses
(``equipoise.analyze.report_inputs``), then render them (``equipoise.report``)."""

from __future__ import annotations

from equipoise.analyze.report_inputs import TrialData, closed_report_inputs, open_report_inputs
from equipoise.protocol import Protocol
from equipoise.report import Report, ReportOptions, closed_report, open_report


def closed_report_of(protocol: Protocol, data: TrialData, options: ReportOptions) -> Report:
    inputs = closed_report_inputs(protocol, data, cutoff=options.cutoff(), prior_sd=options.prior_sd,
                                  important_or=options.important_or, cp_futility=options.cp_futility)
    return closed_report(protocol, data, inputs, options)


def open_report_of(protocol: Protocol, data: TrialData, options: ReportOptions) -> Report:
    return open_report(protocol, data, open_report_inputs(protocol, data, cutoff=options.cutoff()), options)
