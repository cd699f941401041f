"""Trial-sized lists come a page at a time (issue 18): ``limit`` (default 100) and ``after_id`` (the last id seen);
the pages together are the whole list."""

from __future__ import annotations

from tests.forms.conftest import Trial


def test_queries_page_by_the_last_id_seen(trial: Trial) -> None:
    pid = trial.patient()
    values = {"assessment_date": trial.world.today().isoformat(), "who_score": 5, "spo2": 94, "resp_rate": 22}
    assert trial.put(trial.form(pid, "clinical_status", "baseline"), "coord", {"values": values}).status_code == 200
    for text in ("first?", "second?", "third?"):
        body = {"patient_id": pid, "form_id": "clinical_status", "visit_id": "baseline", "field_id": "spo2",
                "text": text}
        assert trial.post("/queries", "monitor", body).status_code == 201
    whole = [q["id"] for q in trial.get("/queries", "monitor").json()]
    assert len(whole) == 3
    first = trial.get("/queries", "monitor", params={"limit": 2}).json()
    rest = trial.get("/queries", "monitor", params={"limit": 2, "after_id": first[-1]["id"]}).json()
    assert [q["id"] for q in first + rest] == whole
    assert trial.get("/queries", "monitor", params={"limit": 2, "after_id": whole[-1]}).json() == []


def test_notifications_and_part_allocations_take_a_page_size(trial: Trial) -> None:
    for path, user in (("/notifications", "unblinded_stat"), ("/randomizations/ivermectin", "unblinded_stat")):
        assert trial.get(path, user, params={"limit": 0}).status_code == 422, path
        assert trial.get(path, user, params={"limit": 1001}).status_code == 422, path
    assert trial.get("/notifications", "unblinded_stat", params={"limit": 5}).status_code == 200
