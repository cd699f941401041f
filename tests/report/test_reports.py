"""The closed and open reports on the demo trial: content, self-containment, and no arm-level outcome data in
the open report."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.report.render import closed_report_of, open_report_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def closed(demo_protocol, demo_data, options):
    return closed_report_of(demo_protocol, demo_data, options)


@pytest.fixture(scope="module")
def opened(demo_protocol, demo_data, options):
    return open_report_of(demo_protocol, demo_data, options)


def test_closed_report_has_every_section_by_arm(closed):
    assert closed.kind == "closed"
    for title in ("Participant flow (CONSORT)", "Enrolment", "Baseline characteristics", "Primary outcome",
                  "Secondary outcomes", "Safety"):
        assert title in closed.section_titles
    html = closed.html
    assert "CLOSED REPORT" in html
    assert "Allocated to msc (n = 120)" in html
    assert "Allocated to placebo (n = 120)" in html
    assert "msc (n = 120)" in html  # baseline table columns by arm
    assert "Common odds ratio (95% CI)" in html
    assert "Aalen–Johansen" in html
    assert "Subdistribution hazard ratio, Fine–Gray (95% CI)" in html
    assert "number at risk" in html  # Kaplan–Meier with the numbers at risk
    assert html.count("<svg") >= 6  # CONSORT, enrolment, WHO bars, forest, incidence, survival (+ monitoring)
    assert "Patients with serious adverse events" in html


def test_closed_report_with_an_arm_without_events(demo_protocol, demo_data, options):
    patients = demo_data.patients.copy()
    patients.loc[patients["arm"] == "msc", "discharge_date"] = None  # nobody in msc discharged yet
    html = closed_report_of(demo_protocol, replace(demo_data, patients=patients), options).html
    assert "not estimable: arm &#39;msc&#39; has no events" in html
    assert "Common odds ratio (95% CI)" in html  # the rest of the report is there


def test_reports_are_self_contained(closed, opened):
    for html in (closed.html, opened.html):
        assert not re.search(r"""(src|href)=["']https?://""", html)
        assert "<script" not in html
        assert "<link" not in html


def test_open_report_is_pooled(opened):
    html = opened.html
    assert "OPEN REPORT" in html
    assert "Common odds ratio" not in html
    assert "hazard ratio" not in html.lower()
    assert "Allocated to msc" not in html
    assert "Z =" not in html


def test_open_report_does_not_change_when_arm_labels_are_shuffled(demo_protocol, demo_data, options, opened):
    """A shuffle of the arm labels (same numbers per arm) changes every by-arm outcome result; the open report
    must stay byte for byte the same, so it cannot hold outcome data by arm."""
    rng = np.random.default_rng(1)
    shuffled = demo_data.patients.copy()
    shuffled["arm"] = rng.permutation(shuffled["arm"].to_numpy())
    assert (shuffled["arm"] != demo_data.patients["arm"]).sum() > 50
    again = open_report_of(demo_protocol, replace(demo_data, patients=shuffled), options)
    assert again.html == opened.html
    closed_a = closed_report_of(demo_protocol, demo_data, options)
    closed_b = closed_report_of(demo_protocol, replace(demo_data, patients=shuffled), options)
    assert closed_a.html != closed_b.html  # the closed report does depend on the arms (sanity check)


def test_report_cli_writes_html(run_cli, demo_paths, tmp_path):
    out = tmp_path / "dmc.html"
    res = run_cli("report", "dmc", "--protocol", demo_paths["protocol"], "--data", demo_paths["data"],
                  "--screening", demo_paths["screening"], "--adverse-events", demo_paths["ae"], "--output", out,
                  "--date", "2020-08-20", "--json")
    assert res.code == 0, res.stderr
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    res = run_cli("report", "open", "--protocol", demo_paths["protocol"], "--data", demo_paths["data"],
                  "--output", tmp_path / "open.html")
    assert res.code == 0, res.stderr
    assert "wrote" in res.stdout


def test_report_cli_refuses_bad_data(run_cli, demo_paths, tmp_path):
    df = pd.read_csv(demo_paths["data"])
    df.loc[10, "who_day28"] = 11
    bad = tmp_path / "bad.csv"
    df.to_csv(bad, index=False)
    res = run_cli("report", "dmc", "--protocol", demo_paths["protocol"], "--data", bad, "--output",
                  tmp_path / "x.html")
    assert res.code == 2
    assert "line 12: column 'who_day28' = 11 is not a level of WHO clinical progression scale (0–10)" in res.stderr


@pytest.mark.chromium
def test_pdf_with_chromium(chromium_path, run_cli, demo_paths, tmp_path):
    pdf = tmp_path / "dmc.pdf"
    res = run_cli("report", "dmc", "--protocol", demo_paths["protocol"], "--data", demo_paths["data"], "--output",
                  tmp_path / "dmc.html", "--pdf", pdf)
    assert res.code == 0, res.stderr
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert pdf.stat().st_size > 50_000


def test_demo_generator_is_reproducible(tmp_path):
    """The committed demo files are exactly what the seeded generator writes."""
    script = ROOT / "examples" / "data" / "make_msc_rct_demo.py"
    copy = tmp_path / "make_msc_rct_demo.py"
    copy.write_text(script.read_text(encoding="utf-8"), encoding="utf-8")
    subprocess.run([sys.executable, str(copy)], check=True, capture_output=True)
    for name in ("msc-rct-demo.csv", "msc-rct-demo-screening.csv", "msc-rct-demo-ae.csv"):
        assert (tmp_path / name).read_bytes() == (ROOT / "examples" / "data" / name).read_bytes()


def test_reports_need_site_and_randomisation_date(demo_protocol, demo_data, options):
    from equipoise.errors import UserError

    with pytest.raises(UserError, match="no column 'site'"):
        open_report_of(demo_protocol, replace(demo_data, patients=demo_data.patients.drop(columns=["site"])), options)


def test_reports_work_without_optional_columns(demo_protocol, demo_data, options):
    minimal = demo_data.patients.drop(columns=["look", "infusion_completed", "withdrew", "lost_to_follow_up",
                                               "who_day7", "who_day14", "sex", "patient_id"])
    report = closed_report_of(demo_protocol, replace(demo_data, patients=minimal, screening=None, adverse_events=None),
                           options)
    assert "No adverse-event data were supplied." in report.html
    assert "Group-sequential monitoring" not in report.html


def test_closed_report_on_a_look_without_a_posterior_says_why_and_keeps_the_rest(demo_protocol, demo_data,
                                                                                  options):
    # Ten patients, every critical one dead by day 28 and nobody else: severity separates the outcome, so the
    # adjusted posterior has no finite estimate (tests/analyze/test_po_posterior_sparse.py).
    patients = pd.concat([demo_data.patients[demo_data.patients["arm"] == arm].head(5) for arm in ("msc", "placebo")])
    patients = patients.assign(
        severity=["mild", "severe", "critical", "mild", "severe", "severe", "critical", "mild", "mild", "severe"],
        age=[52, 67, 71, 45, 60, 58, 74, 49, 66, 63],
        who_day28=[2, 4, 10, 1, 5, 6, 10, 3, 2, 4])
    html = closed_report_of(demo_protocol, replace(demo_data, patients=patients), options).html
    assert "No Bayesian summary at this look" in html
    assert "no finite estimate" in html
    assert "Common odds ratio (95% CI)" in html  # the frequentist primary result is there
    assert "Safety" in html


def test_closed_report_names_its_clocks_adjustments_and_counts_readably(closed, demo_protocol, demo_data, options):
    html = closed.html
    assert "Report date 2020-08-20 (UTC); last randomisation in the data " in html
    assert "(the site&#39;s local date)" in html or "(the site's local date)" in html
    adjusted = "severity (mild, severe vs critical); age65 (under-65 vs 65-and-over)"
    assert f"Adjusted for</td><td class=\"num\">{adjusted}" in html
    assert "severitysevere" not in html
    assert "age65under-65" not in html
    assert not re.search(r"\b1 events\b|\b1 patients\b", html)
    one_event = demo_data.adverse_events.head(1)
    single = closed_report_of(demo_protocol, replace(demo_data, adverse_events=one_event), options).html
    assert "1 event / 1 patient" in single


def test_readable_covariates_and_plural():
    from equipoise.report.build import readable_covariates
    from equipoise.report.tables import plural

    data = pd.DataFrame({"severity": ["mild", "severe", "critical"], "age65": ["under-65", "65-and-over", None],
                         "age": [40, 70, 50], "arm": ["a", "b", "a"]})
    assert (readable_covariates(["severitymild", "severitysevere", "age65under-65", "age"], data)
            == "severity (mild, severe vs critical); age65 (under-65 vs 65-and-over); age")
    assert readable_covariates([], data) == ""
    assert (plural(1, "event"), plural(0, "event"), plural(2, "patient")) == ("1 event", "0 events", "2 patients")
