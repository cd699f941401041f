"""The closed report of an adaptive platform shows each arm's posteriors, the rules' decisions, the proposed
table (the numbers of ``analyze platform`` on the same data) and the allocation history."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from equipoise.analyze.platform_analysis import analyze_platform
from equipoise.protocol import load_protocol
from equipoise.report.build import ReportOptions, TrialData
from tests.conftest import EXAMPLES
from tests.report.render import closed_report_of, open_report_of

FILE = EXAMPLES / "covid19-adaptive-platform.yaml"
DATA = EXAMPLES / "data" / "adaptive-platform-interim.csv"
ON = dt.date(2020, 7, 1)


def test_closed_report_has_the_platform_section():
    protocol = load_protocol(FILE)
    patients = pd.read_csv(DATA)
    report = closed_report_of(protocol, TrialData(patients), ReportOptions(report_date=ON))
    assert "Adaptive platform analysis" in report.section_titles
    analysis = analyze_platform(protocol, patients, ON)
    dexa = next(a for a in analysis.primary.arms if a.arm == "dexamethasone")
    assert f"{dexa.p_better:.4f}" in report.html
    assert "Proposed next allocation table" in report.html
    for arm, probability in analysis.proposed_table.items():
        assert f"<td>{arm}</td>" in report.html
        assert f"{probability:.4f}" in report.html
    assert "Allocation history" in report.html
    assert "dexamethasone: superiority → drop-arm" in report.html  # the committee's summary names the decision


def test_open_report_shows_nothing_by_arm():
    report = open_report_of(load_protocol(FILE), TrialData(pd.read_csv(DATA)), ReportOptions(report_date=ON))
    assert "Adaptive platform analysis" not in report.section_titles
