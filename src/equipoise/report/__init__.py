"""Reports for the data monitoring committee: the closed report (by arm) and the open report (pooled), as
self-contained HTML (inline CSS and SVG figures), rendered from the analysis layer's result objects: run the
analyses with ``equipoise.analyze.report_inputs`` (``closed_report_inputs``, ``open_report_inputs``), then
render them with ``closed_report`` or ``open_report``."""

from equipoise.analyze.report_inputs import TrialData
from equipoise.report.build import ReportOptions, closed_report, open_report
from equipoise.report.document import Report

__all__ = ["Report", "ReportOptions", "TrialData", "closed_report", "open_report"]
