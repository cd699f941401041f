"""EDC-2 soft edit checks: a value outside a field's expected range (but inside its allowed range) is saved and
opens a query for the site to confirm; the query follows the usual open -> answered -> closed workflow."""

from __future__ import annotations

from equipoise.protocol import validate_text
from tests.forms.conftest import World, site_date
from tests.store.support import DEMO, PASSWORD

SPO2 = '{id: spo2, label: Oxygen saturation, type: number, unit: "%", range: [50, 100], required: false}'
EXPECTED = ('{id: spo2, label: Oxygen saturation, type: number, unit: "%", range: [50, 100], expected: [85, 100], '
            'required: false}')


def _values(spo2: float) -> dict[str, object]:
    today = site_date().isoformat()
    return {"values": {"assessment_date": today, "who_score": 5, "spo2": spo2, "resp_rate": 22}}


def test_an_unexpected_value_is_saved_and_opens_a_query_for_the_site(world: World):
    text = DEMO.read_text()
    assert SPO2 in text
    trial = world.trial(text.replace(SPO2, EXPECTED, 1))
    pid = trial.patient()
    form = trial.form(pid, "clinical_status", "baseline")
    saved = trial.put(form, "coord", _values(70))
    assert saved.status_code == 200, saved.text
    assert any("outside the expected 85 to 100 %" in w for w in saved.json()["warnings"])
    queries = trial.get("/queries", "monitor").json()
    assert len(queries) == 1
    query = queries[0]
    assert (query["field_id"], query["status"]) == ("spo2", "open")
    assert query["messages"][0]["by"] == "system"
    # The same field again while its query is open: no second query.
    assert trial.put(form, "coord", {**_values(72), "reason": "re-read the monitor"}).status_code == 200
    assert len(trial.get("/queries", "monitor").json()) == 1
    # The open query holds the database lock back until the site answers and the monitor closes it.
    lock = {"reason": "final analysis", "password": PASSWORD}
    assert trial.post("/database-lock", "monitor", lock).status_code == 409
    qid = query["id"]
    assert trial.post(f"/queries/{qid}/answer", "coord", {"text": "72% confirmed on the source"}).status_code == 200
    assert trial.post(f"/queries/{qid}/close", "monitor", {"text": "ok"}).status_code == 200
    # An expected value raises nothing.
    assert trial.put(form, "coord", {**_values(95), "reason": "repeat measurement"}).status_code == 200
    assert [q["status"] for q in trial.get("/queries", "monitor").json()] == ["closed"]
    assert trial.post("/database-lock", "monitor", lock).status_code == 200


def test_expected_ranges_are_checked_in_the_protocol():
    bad = DEMO.read_text().replace(SPO2, SPO2.replace("required: false", "expected: [40, 100], required: false"), 1)
    problems = [str(p) for p in validate_text(bad, "demo.yaml").errors]
    assert any("inside the allowed range" in p for p in problems)
