"""Reports for the data monitoring committee: the closed report (by arm) and the open report (pooled), as
self-contained HTML (inline CSS and SVG figures), rendered from the analysis layer's result objects."""

from equipoise.report.build import ReportOptions, TrialData, closed_report, open_report
from equipoise.report.document import Report

__all__ = ["Report", "ReportOptions", "TrialData", "closed_report", "open_report"]
