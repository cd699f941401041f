"""Tracking's counts by site (issue 18): patients, those off study and the open and answered queries are counted
in SQL (GROUP BY site), each site's protocol and date are worked out once; the counts are the ones each
patient's own schedule and the lists give, added up by site."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.forms.conftest import Trial, World, days_ago, site_date


def _clinical(day: str) -> dict[str, object]:
    return {"values": {"assessment_date": day, "who_score": 5, "spo2": 94, "resp_rate": 22}}


def _expected(trial: Trial, user: str) -> dict[str, dict[str, Any]]:
    """The counts by site from each patient's schedule (the route a patient's page uses) and the lists."""
    patients = trial.get("/patients", user, params={"limit": 1000}).json()
    queries = trial.get("/queries", user, params={"limit": 1000}).json()
    by_site: dict[str, Counter[str]] = {}
    for patient in patients:
        schedule = trial.get(f"/patients/{patient['id']}/schedule", user).json()
        counts = by_site.setdefault(patient["site_id"], Counter())
        counts["patients"] += 1
        counts["patients_off_study"] += int(schedule["off_study"] is not None)
        counts.update(schedule["counts"])
    for query in queries:
        if query["status"] in ("open", "answered"):
            by_site[query["site_id"]][f"{query['status']}_queries"] += 1
    return {site: dict(counts) for site, counts in by_site.items()}


def test_tracking_counts_by_site_are_each_patients_schedule_added_up(world: World, trial: Trial) -> None:
    with world.at(days_ago(20)):
        early = [trial.patient(), trial.patient(site="milan-sacco", user="coord_milan")]
    with world.at(days_ago(9)):
        later = trial.patient()
    waiting = trial.enrol()  # enrolled, not randomized: only its day-0 forms are scheduled
    day3 = site_date(days_ago(17)).isoformat()
    assert trial.put(trial.form(early[0], "clinical_status", "day3"), "coord", _clinical(day3)).status_code == 200
    assert trial.put(trial.form(later, "clinical_status", "baseline"), "coord",
                     _clinical(site_date(days_ago(9)).isoformat())).status_code == 200
    asked = [trial.post("/queries", "monitor", {"patient_id": early[0], "form_id": "clinical_status",
                                                "visit_id": "day3", "field_id": "spo2", "text": text})
             for text in ("on oxygen?", "which device?")]
    assert all(a.status_code == 201 for a in asked), [a.text for a in asked]
    assert trial.post(f"/queries/{asked[0].json()['id']}/answer", "coord", {"text": "yes, 2 L"}).status_code == 200
    left = {"kind": "withdrew-consent", "effective_date": site_date(days_ago(12)).isoformat(),
            "reason": "patient asked to stop all visits"}
    assert trial.post(f"/patients/{early[0]}/off-study", "coord", left).status_code == 201
    report = trial.get("/tracking", "monitor").json()
    expected = _expected(trial, "monitor")
    assert set(report["sites"]) == set(expected) == {"pumch", "milan-sacco"}
    for site, counts in report["sites"].items():
        assert {k: v for k, v in counts.items() if v} == {k: v for k, v in expected[site].items() if v}, site
    pumch = report["sites"]["pumch"]
    assert (pumch["patients"], pumch["patients_off_study"], pumch["open_queries"], pumch["answered_queries"]) == (
        3, 1, 1, 1)
    assert waiting not in {o["patient_id"] for o in report["overdue"]}
    # a site's coordinator gets their own site's counts, the same numbers
    own = trial.get("/tracking", "coord_milan").json()["sites"]
    assert own == {"milan-sacco": report["sites"]["milan-sacco"]}
