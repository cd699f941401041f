"""The protocol's analyses, the interim decision and the committee's reports, straight from the trial server's
data: the numbers equal those of an analysis of a DataFrame built independently from the services, reading is
an audited export, the open report shows nothing by arm, and the direction conventions hold end to end."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select

from equipoise.analyze.protocol_analysis import run_protocol
from equipoise.analyze.results import fmt
from equipoise.identity.principal import Grant, Principal
from equipoise.identity.roles import Role
from equipoise.services.forms import FormService
from equipoise.services.patients import PatientService
from equipoise.services.randomization import RandomizationService
from equipoise.services.site_clock import local_date
from equipoise.services.trials import get_trial, protocol_of
from equipoise.store.crf_models import FormRecord
from equipoise.store.db import Database
from equipoise.store.models import AuditEntry
from tests.integration.conftest import AS_OF, PATIENTS, TRIAL, Demo, cli
from tests.store.support import DEMO


def independent_frame(url: str) -> tuple[pd.DataFrame, Any]:
    """The analysis data set rebuilt from the services as the unblinded statistician reads them (not from the
    export), with the time to discharge derived here from the outcome form's dates."""
    database = Database(url)
    reader = Principal(user_id=None, username="test", grants=(Grant(Role.UNBLINDED_STATISTICIAN, TRIAL, None),))
    with database.read() as s:
        protocol = protocol_of(get_trial(s, TRIAL))
    patients = {p.id: p for p in PatientService(database).list_patients(reader, TRIAL, limit=10_000)}
    forms = FormService(database)
    rows = []
    for a in RandomizationService(database).list_allocations(reader, TRIAL, limit=10_000):
        p = patients[a.patient_id]
        start = local_date(protocol, p.site_id, dt.datetime.fromisoformat(a.randomized_at.replace("Z", "+00:00")))
        saved = {(r.form_id, r.visit_id): r.values for r in forms.list_records(reader, TRIAL, p.id)
                 if r.status == "complete"}
        status, outcome, ct = saved.get(("clinical_status", "day28")), saved.get(("outcome", "day28")), \
            saved.get(("imaging", "day14"))
        row: dict[str, Any] = {"site": p.site_id, "arm": a.arm, "randomised_on": start.isoformat(),
                               "severity": a.factors["severity"], "age65": a.factors["age65"], "age": p.values["age"],
                               "who_day28": status["who_score"] if status else None,
                               "death_day28": int(outcome["died"]) if outcome else None,
                               "ct_improvement_day14": int(ct["ct_improved"]) if ct and "ct_improved" in ct else None}
        if outcome:  # discharge by day 28 is the event; death first competes; else censored at day 28
            discharge, death = (dt.date.fromisoformat(outcome[k]) if outcome.get(k) else None
                                for k in ("discharge_date", "death_date"))
            if discharge is not None and (discharge - start).days <= 28:
                row["time_to_discharge_time"], row["time_to_discharge_status"] = (discharge - start).days, 1
            elif death is not None and (death - start).days <= 28:
                row["time_to_discharge_time"], row["time_to_discharge_status"] = (death - start).days, 2
            else:
                row["time_to_discharge_time"], row["time_to_discharge_status"] = 28, 0
        rows.append(row)
    database.dispose()
    return pd.DataFrame(rows), protocol


def same(a: Any, b: Any, path: str = "") -> None:
    """Equal JSON values, numbers to 1e-9 relative."""
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, int | float):
        assert b == pytest.approx(a, rel=1e-9, abs=1e-12, nan_ok=True), path
    else:
        assert a == b, path


def exports_audited(url: str) -> list[AuditEntry]:
    database = Database(url)
    with database.read() as s:
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "export").order_by(AuditEntry.id)))
    database.dispose()
    return entries


def test_analyze_protocol_on_the_server_equals_the_analysis_of_the_same_data(populated: Demo):
    result = cli("analyze", "protocol", "--trial", TRIAL, "--db", populated.url, "--json")
    assert result.code == 0, result.stderr
    from_server = json.loads(result.stdout)
    frame, protocol = independent_frame(populated.url)
    direct = json.loads(json.dumps(run_protocol(protocol, frame).to_dict()))
    assert from_server["n"] == PATIENTS
    same(direct["comparisons"], from_server["comparisons"])
    primary = from_server["comparisons"][0]["result"]
    assert primary["n"] == int(frame["who_day28"].notna().sum()) < PATIENTS  # the latest patients: not yet day 28
    # reading the data was an unblinded export, audited with its purpose
    last = exports_audited(populated.url)[-1]
    assert last.new_values is not None
    assert last.new_values["arms"] == "shown"
    assert last.reason == "csv export for the protocol's analyses"
    # only the tables the analysis reads: never the audit trail, never the other forms (issue 18)
    read = set(last.new_values["files"])
    assert {"analysis.csv", "screening_log.csv", "off_study.csv"} <= read
    assert not read & {"audit_log.csv", "audit_trail.csv", "queries.csv", "signatures.csv", "patients.csv"}


def test_direction_conventions_hold_from_virtual_patients_to_the_analysis(strong_effect: Demo):
    """MSC helps every daily transition (odds ratio 4 in the natural history): every estimate must say so."""
    result = cli("analyze", "protocol", "--trial", TRIAL, "--db", strong_effect.url, "--json")
    assert result.code == 0, result.stderr
    by_outcome = {c["outcome"]: c["result"] for c in json.loads(result.stdout)["comparisons"]}
    who = by_outcome["who_day28"]
    assert who["odds_ratio"] > 1
    assert "above 1 favours msc" in who["direction"]
    death = by_outcome["death_day28"]
    assert death["risk_difference"]["estimate"] < 0
    assert "fewer events are better" in death["direction"]
    discharge = by_outcome["time_to_discharge"]
    assert discharge["hazard_ratio"] > 1
    assert "above 1 favours msc" in discharge["direction"]


def cli_lost(url: str) -> int:
    """Patients whose day-28 clinical status the site marked not done as lost to follow-up."""
    database = Database(url)
    with database.read() as s:
        reasons = s.scalars(select(FormRecord.not_done_reason).where(
            FormRecord.form_id == "clinical_status", FormRecord.visit_id == "day28",
            FormRecord.status == "not-done")).all()
    database.dispose()
    return sum("lost to follow-up" in (r or "") for r in reasons)


def test_report_dmc_from_the_server_shows_the_numbers_of_the_analysis(populated: Demo, tmp_path: Path):
    analysis = json.loads(cli("analyze", "protocol", "--trial", TRIAL, "--db", populated.url, "--json").stdout)
    html_path = tmp_path / "dmc.html"
    result = cli("report", "dmc", "--trial", TRIAL, "--db", populated.url, "--output", html_path, "--json")
    assert result.code == 0, result.stderr
    last = exports_audited(populated.url)[-1]
    assert last.reason == "csv export for the closed report for the data monitoring committee"
    assert last.new_values is not None
    assert last.new_values["arms"] == "shown"
    html = html_path.read_text()
    primary = analysis["comparisons"][0]["result"]
    assert f"{fmt(primary['odds_ratio'], 2)} ({fmt(primary['ci_low'], 2)} to {fmt(primary['ci_high'], 2)})" in html
    for arm in analysis["comparisons"][1]["result"]["arms"]:  # deaths by day 28, by arm
        assert f"{arm['events']} / {arm['n']} ({100 * arm['events'] / arm['n']:.1f}%)" in html
    found = re.search(r"(\d+) of \d+ screened refused", populated.first.stdout)
    assert found is not None
    screening = int(found.group(1))
    assert f"Excluded (n = {screening})" in html
    assert f"Randomised (n = {PATIENTS})" in html
    # CONSORT at an interim look: lost to follow-up from the sites' reasons, and patients not yet at day 28
    frame, _protocol = independent_frame(populated.url)
    lost = sum(int(n) for n in re.findall(r"Lost to follow-up \(n = (\d+)\)", html))
    assert lost == cli_lost(populated.url)
    assert "not yet due" not in html  # the demo's --as-of is long past: every outcome is due by the export
    missing = sum(int(n) for n in re.findall(r"excluded: outcome missing \(n = (\d+)\)", html))
    assert missing == int(frame["who_day28"].isna().sum())
    # the same data as a plain CSV reported on the demo's own date: the latest patients are not yet at day 28
    assert cli("export", "csv", TRIAL, "--db", populated.url, "--output", tmp_path / "x", "--unblinded").code == 0
    earlier = cli("report", "dmc", "--protocol", DEMO, "--data", tmp_path / "x" / "analysis.csv", "--date", AS_OF,
                  "--output", tmp_path / "then.html")
    assert earlier.code == 0, earlier.stderr
    then = (tmp_path / "then.html").read_text()
    pending = sum(int(n) for n in re.findall(r"not yet due at the data cut-off \(n = (\d+)\)", then))
    missing = sum(int(n) for n in re.findall(r"excluded: outcome missing \(n = (\d+)\)", then))
    assert pending > 0
    assert pending + missing == int(frame["who_day28"].isna().sum())
    assert "Look 1 of 3" in html
    assert "arms shown" in html


def test_report_open_from_the_server_has_no_outcome_by_arm(populated: Demo, tmp_path: Path):
    html_path = tmp_path / "open.html"
    result = cli("report", "open", "--trial", TRIAL, "--db", populated.url, "--output", html_path)
    assert result.code == 0, result.stderr
    last = exports_audited(populated.url)[-1]
    assert last.new_values is not None
    assert last.new_values["arms"] == "masked"
    html = html_path.read_text().replace("stem cells versus placebo for adults", "")  # the title names the arms
    assert not re.search(r"\bmsc\b|placebo", html)
    assert "arms masked" in html
    assert "NO COMPARISON BY ARM" in html


def test_interim_decision_on_server_data_at_the_current_look(populated: Demo):
    now = json.loads(cli("analyze", "interim", "--trial", TRIAL, "--db", populated.url, "--json").stdout)
    frame, protocol = independent_frame(populated.url)
    analysed = int(frame["who_day28"].notna().sum())
    assert now["look"] == 1
    assert now["looks"][0]["n"] == analysed
    assert now["looks"][0]["information_fraction"] == pytest.approx(analysed / protocol.enrolment.target.total)
    assert now["decision"] in {"continue", "stop for efficacy", "stop for futility"}
    # An earlier look that has outcomes in both arms, whatever the server's (secret, random) allocations: it
    # ends when each arm has 8 patients whose day-28 outcome is due and half of all outcomes are due (a fixed 60
    # days after the first randomization once held placebo patients only; 8 per arm alone once gave an ordinal
    # fit with no standard error, which the interim analysis rightly refuses).
    outcomes = frame[frame["who_day28"].notna()]
    due = pd.to_datetime(outcomes["randomised_on"]) + pd.Timedelta(days=28)
    cut = max([*(due[outcomes["arm"] == arm].sort_values().iloc[7] for arm in ("msc", "placebo")),
               due.sort_values().iloc[len(due) // 2]])
    assert cut < due.max()
    earlier = cut.date().isoformat()
    two = cli("analyze", "interim", "--trial", TRIAL, "--db", populated.url, "--look-dates", earlier, "--json")
    assert two.code == 0, two.stderr
    looks = json.loads(two.stdout)["looks"]
    assert [lk["look"] for lk in looks] == [1, 2]
    assert looks[0]["n"] < looks[1]["n"] == analysed


def test_an_export_on_disk_is_data_too(populated: Demo, tmp_path: Path):
    assert cli("export", "csv", TRIAL, "--db", populated.url, "--output", tmp_path / "un", "--unblinded").code == 0
    assert cli("export", "csv", TRIAL, "--db", populated.url, "--output", tmp_path / "blind").code == 0
    from_dir = cli("analyze", "protocol", DEMO, "--data", tmp_path / "un", "--json")
    from_db = cli("analyze", "protocol", "--trial", TRIAL, "--db", populated.url, "--json")
    assert from_dir.code == 0, from_dir.stderr
    same(json.loads(from_db.stdout), json.loads(from_dir.stdout))
    refused = cli("analyze", "protocol", DEMO, "--data", tmp_path / "blind")
    assert refused.code == 2
    assert "masks them" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert cli("report", "open", "--protocol", DEMO, "--data", tmp_path / "blind", "--output",
               tmp_path / "open.html").code == 0
    closed = cli("report", "dmc", "--protocol", DEMO, "--data", tmp_path / "blind", "--output", tmp_path / "x.html")
    assert closed.code == 2
    assert "masks them" in closed.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("analyze", "protocol", "--trial", "NOPE"), "no trial 'NOPE'"),
    (("analyze", "protocol", "--trial", TRIAL, "--data", "x.csv"), "not both"),
    (("analyze", "protocol"), "give the protocol file"),
    (("report", "dmc", "--output", "x.html"), "give the protocol file"),
    (("analyze", "interim", "--trial", TRIAL, "--look-dates", "2025-13-01"), "--look-dates"),
    (("analyze", "protocol", str(Path(__file__).parents[2] / "examples/covid19-platform.yaml"), "--trial", TRIAL),
     "describes trial"),
])
def test_bad_requests_get_one_clear_line(populated: Demo, args: tuple[str, ...], message: str):
    result = cli(*args, "--db", populated.url) if "--trial" in args else cli(*args)
    assert result.code == 2, result.stdout
    assert message in result.stderr
    assert "Traceback" not in result.stderr
