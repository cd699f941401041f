"""RND-6: further randomizations. RECOVERY-style: a factorial part randomized beside the main comparison, and a
second randomization of patients whose disease progresses (tocilizumab versus usual care), each with its own
arms, method, fields and eligibility, open label, replayable and exported."""

from __future__ import annotations

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET
import zipfile
from typing import Any

import xmlschema
from sqlalchemy import update

from equipoise.integrity.audit_verify import verify
from equipoise.protocol import validate_text
from equipoise.services.replay import replay_trial
from equipoise.store.part_models import PartAllocation
from tests.forms.conftest import Trial, World, site_date, world
from tests.forms.test_exports import odm_schema
from tests.store.support import DEMO

__all__ = ["odm_schema", "world"]  # the forms tests' server (both databases, one trial per test); the schema

PARTS = """
further_randomizations:
  - id: tocilizumab
    name: Second randomization, tocilizumab for progressive disease
    arms:
      - {id: tocilizumab, name: Tocilizumab 8 mg/kg + usual care, role: experimental}
      - {id: usual-care, name: Usual care alone, role: usual-care}
    randomization:
      method: permuted-blocks
      block_sizes: [2, 4]
      factors:
        - {id: oxygen, field: on_oxygen}
      stratify_by: [oxygen]
    fields:
      - {id: crp, label: C-reactive protein, type: number, unit: mg/L, range: [0, 1000]}
      - {id: on_oxygen, label: On supplemental oxygen, type: boolean}
      - {id: hypoxia, label: Oxygen saturation below 92% on air, type: boolean}
    eligibility:
      - {id: inflamed, text: C-reactive protein of 75 mg/L or more, field: crp, op: ">=", value: 75}
      - {id: hypoxic, text: Hypoxia, field: hypoxia, op: "==", value: true}
      - {id: not_pregnant, text: Not pregnant, kind: exclusion, field: pregnant, op: "==", value: true}
  - id: plasma
    name: Factorial part, convalescent plasma
    arms:
      - {id: plasma, name: Convalescent plasma, role: experimental}
      - {id: no-plasma, name: No plasma, role: usual-care}
    randomization: {method: simple}
"""
ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
PROGRESSING = {"crp": 120, "on_oxygen": True, "hypoxia": True}


def _text() -> str:
    return DEMO.read_text() + PARTS


def _post(trial: Trial, pid: int, part: str, user: str, values: dict[str, Any] | None, key: str | None) -> Any:
    extra = {"Idempotency-Key": key} if key else {}
    return trial.world.client.post(f"{trial.base}/patients/{pid}/randomizations/{part}",
                                   json={"values": values or {}}, headers=trial.h(user, **extra))


def test_a_progressing_patient_is_randomized_again_once(world: World):
    trial = world.trial(_text())
    enrolled = trial.enrol()
    refused = _post(trial, enrolled, "tocilizumab", "coord", PROGRESSING, "k0")
    assert refused.status_code == 409
    assert "is not randomized yet" in refused.json()["detail"]
    pid = trial.patient()
    assert _post(trial, pid, "tocilizumab", "coord", PROGRESSING, None).status_code == 422
    ineligible = _post(trial, pid, "tocilizumab", "coord", {**PROGRESSING, "crp": 40}, "k1")
    assert ineligible.status_code == 422
    assert [c["id"] for c in ineligible.json()["failed"]] == ["inflamed"]
    assert "C-reactive protein of 75 mg/L or more" in ineligible.json()["detail"]
    unknown = _post(trial, pid, "tocilizumab", "coord", {**PROGRESSING, "ferritin": 900}, "k2")
    assert (unknown.status_code, "ferritin: not a field of tocilizumab" in unknown.json()["detail"]) == (422, True)
    out_of_range = _post(trial, pid, "tocilizumab", "coord", {**PROGRESSING, "crp": 5000}, "k3")
    assert out_of_range.status_code == 422
    assert "C-reactive protein" in out_of_range.json()["errors"]["crp"]
    assert _post(trial, pid, "remdesivir", "coord", PROGRESSING, "k4").status_code == 404
    # Roles: the site randomizes; the Milan coordinator does not see the patient; others may not.
    assert _post(trial, pid, "tocilizumab", "coord_milan", PROGRESSING, "k5").status_code == 404
    for user in ("monitor", "blinded_stat", "unblinded_stat", "dmc", "pv"):
        assert _post(trial, pid, "tocilizumab", user, PROGRESSING, f"k-{user}").status_code == 403, user
    made = _post(trial, pid, "tocilizumab", "coord", PROGRESSING, "second-1")
    assert made.status_code == 201, made.text
    second = made.json()
    assert second["arm"] in {"tocilizumab", "usual-care"}
    assert (second["part_id"], second["factors"], second["values"]) == ("tocilizumab", {"oxygen": "yes"},
                                                                          PROGRESSING)
    retry = _post(trial, pid, "tocilizumab", "coord", PROGRESSING, "second-1")
    assert (retry.status_code, retry.json()["arm"], retry.json()["replayed"]) == (200, second["arm"], True)
    changed = _post(trial, pid, "tocilizumab", "coord", {**PROGRESSING, "crp": 121}, "second-1")
    assert (changed.status_code, changed.json()["fields"]) == (422, ["crp"])
    again = _post(trial, pid, "tocilizumab", "investigator", PROGRESSING, "second-2")
    assert again.status_code == 409
    assert "a patient is randomized once in each part" in again.json()["detail"]
    # The factorial part asks nothing and takes the patient too.
    assert _post(trial, pid, "plasma", "investigator", {}, "plasma-1").status_code == 201
    listed = trial.get(f"/patients/{pid}/randomizations", "monitor").json()
    assert [(r["part_id"], r["allocation_id"]) for r in listed] == [("tocilizumab", second["allocation_id"]),
                                                                  ("plasma", listed[1]["allocation_id"])]
    assert [r["patient_id"] for r in trial.get("/randomizations/tocilizumab", "coord").json()] == [pid]
    assert trial.get("/randomizations/tocilizumab", "coord_milan").json() == []
    assert trial.get(f"/patients/{pid}/randomizations", "admin").status_code == 403
    # Replay and the audit trail know the new allocations.
    report = replay_trial(world.db, trial.id)
    assert report.identical, str(report)
    assert report.allocations == 3
    assert verify(world.db).ok


def test_blocks_balance_each_stratum_replay_recomputes_them_and_finds_a_changed_arm(world: World):
    trial = world.trial(_text())
    arms = []
    for n in range(12):
        pid = trial.patient()
        made = _post(trial, pid, "tocilizumab", "coord", {**PROGRESSING, "on_oxygen": n % 2 == 0}, f"b-{n}")
        assert made.status_code == 201, made.text
        arms.append((made.json()["factors"]["oxygen"], made.json()["arm"], made.json()["allocation_id"]))
    for stratum in ("yes", "no"):
        got = [arm for level, arm, _id in arms if level == stratum]
        # Blocks of 2 and 4: within a stratum the arms never differ by more than half the largest block.
        for k in range(1, len(got) + 1):
            assert abs(got[:k].count("tocilizumab") - got[:k].count("usual-care")) <= 2
    report = replay_trial(world.db, trial.id)
    assert report.identical, str(report)
    # The committee's aggregates count the part by arm and crossed with the main arm (the factorial table).
    aggregates = trial.get("/aggregates", "dmc").json()
    part = aggregates["further_randomizations"]["tocilizumab"]
    assert part["total"] == 12
    assert part["by_arm"] == {arm: sum(a == arm for _l, a, _i in arms) for arm in {a for _l, a, _i in arms}}
    assert sum(n for cell in part["by_main_arm"].values() for n in cell.values()) == 12
    assert set(part["by_main_arm"]) <= {"msc", "placebo"}
    assert aggregates["further_randomizations"]["plasma"]["total"] == 0
    assert trial.get("/aggregates", "blinded_stat").status_code == 403
    target = arms[3]
    other = "usual-care" if target[1] == "tocilizumab" else "tocilizumab"
    with world.db.write_engine.begin() as connection:
        connection.execute(update(PartAllocation).where(PartAllocation.id == target[2]).values(arm=other))
    try:
        changed = replay_trial(world.db, trial.id)
        assert [d.message for d in changed.differences] == ["the recomputed arm differs from the stored arm"]
        found = verify(world.db)
        assert any(f.table == "part_allocations" and "arm" in f.message for f in found.findings), str(found)
    finally:
        with world.db.write_engine.begin() as connection:
            connection.execute(update(PartAllocation).where(PartAllocation.id == target[2]).values(arm=target[1]))
    assert verify(world.db).ok


def test_exports_give_each_part_its_file_and_the_analysis_file_its_arm(world: World, odm_schema: xmlschema.XMLSchema):
    trial = world.trial(_text())
    pid = trial.patient()
    other = trial.patient()
    made = _post(trial, pid, "tocilizumab", "coord", PROGRESSING, "e-1").json()
    response = trial.get("/export?format=all", "blinded_stat")
    assert response.status_code == 200, response.text
    files = zipfile.ZipFile(io.BytesIO(response.content))
    rows = list(csv.DictReader(io.StringIO(files.read("randomization_tocilizumab.csv").decode())))
    assert [(r["patient_id"], r["arm"], r["factor_oxygen"], r["crp"], r["hypoxia"]) for r in rows] == [
        (f"P-{pid:06d}", made["arm"], "yes", "120.0", "true")]
    assert list(csv.reader(io.StringIO(files.read("randomization_plasma.csv").decode()))) == [
        ["patient_id", "site", "randomised_on", "randomized_at", "protocol_version", "kit_code", "arm"]]
    analysis = {r["patient_id"]: r for r in csv.DictReader(io.StringIO(files.read("analysis.csv").decode()))}
    assert analysis[f"P-{pid:06d}"]["arm_tocilizumab"] == made["arm"]
    assert analysis[f"P-{other:06d}"]["arm_tocilizumab"] == ""
    assert analysis[f"P-{pid:06d}"]["arm"] == "masked"  # the main comparison stays blinded
    dictionary = list(csv.DictReader(io.StringIO(files.read("data_dictionary.csv").decode())))
    described = {r["column"] for r in dictionary if r["file"] == "randomization_tocilizumab.csv"}
    assert described == {"patient_id", "site", "randomised_on", "randomized_at", "protocol_version", "kit_code", "arm",
                         "factor_oxygen", "crp", "on_oxygen", "hypoxia"}  # every column, the system ones too
    assert any(r["file"] == "analysis.csv" and r["column"] == "arm_tocilizumab" for r in dictionary)
    # ODM: one more form of the enrolment event, valid against the ODM 1.3.2 schema.
    odm = files.read("odm.xml").decode()
    assert [str(e) for e in odm_schema.iter_errors(odm)] == []
    root = ET.fromstring(odm)
    assert any(f.get("OID") == "F.RANDOMIZATION.tocilizumab" for f in root.iter(f"{ODM}FormDef"))
    subject = next(s for s in root.iter(f"{ODM}SubjectData") if s.get("SubjectKey") == f"P-{pid:06d}")
    form = next(f for f in subject.iter(f"{ODM}FormData") if f.get("FormOID") == "F.RANDOMIZATION.tocilizumab")
    items = {i.get("ItemOID"): i.get("Value") for i in form.iter(f"{ODM}ItemData")}
    assert items["IT.RANDOMIZATION.tocilizumab.arm"] == made["arm"]
    assert items["IT.RANDOMIZATION.tocilizumab.crp"] == "120.0"


def test_the_protocol_check_reads_each_part_as_a_protocol_of_its_own():
    bad = (_text().replace("method: permuted-blocks\n      block_sizes: [2, 4]", "method: permuted-blocks\n"
                           "      block_sizes: [3]")
           .replace("{id: crp, label", "{id: age, label")
           .replace("field: hypoxia, op", "field: hypoxaemia, op")
           .replace("randomization: {method: simple}", "randomization: {method: list}"))
    report = validate_text(bad, "recovery.yaml")
    problems = {p.field: p.message for p in report.errors}
    assert "block size 3 is not a positive multiple" in problems[
        "further_randomizations[0].randomization.block_sizes[0]"]
    assert "'age' is an enrolment field already" in problems["further_randomizations[0].fields[0].id"]
    assert "unknown enrolment field 'hypoxaemia'" in problems["further_randomizations[0].eligibility[1].field"]
    assert "not list" in problems["further_randomizations[1].randomization.method"]
    assert all(p.line is not None for p in report.errors), [str(p) for p in report.errors]
    assert validate_text(_text(), "recovery.yaml").valid


def _opened_and_closed(opened: dt.date, closed: dt.date, part_id: str = "plasma") -> str:
    return DEMO.read_text() + f"""
amendments:
  - version: "1.1"
    effective_date: {opened.isoformat()}
    summary: Convalescent plasma randomization opened.
    changes:
      - change: add-further-randomization
        part:
          id: {part_id}
          name: Factorial part, convalescent plasma
          arms:
            - {{id: plasma, name: Convalescent plasma, role: experimental}}
            - {{id: no-plasma, name: No plasma, role: usual-care}}
          randomization: {{method: simple}}
  - version: "1.2"
    effective_date: {closed.isoformat()}
    summary: Plasma closed for futility.
    changes:
      - {{change: close-further-randomization, part: plasma, reason: futility at the interim analysis}}
"""


def test_an_amendment_opens_a_part_from_its_date_and_another_closes_it(world: World):
    today = site_date()
    trial = world.trial(_opened_and_closed(today + dt.timedelta(days=2), today + dt.timedelta(days=5)))
    first = trial.patient()
    early = _post(trial, first, "plasma", "coord", {}, "early")
    assert early.status_code == 409
    assert "randomizes no more patients from protocol version 1.0" in early.json()["detail"]
    with world.at(dt.datetime.now(dt.UTC) + dt.timedelta(days=3)):
        made = _post(trial, first, "plasma", "coord", {}, "open")
        assert made.status_code == 201, made.text
        assert made.json()["protocol_version"] == "1.1"
    with world.at(dt.datetime.now(dt.UTC) + dt.timedelta(days=6)):
        second = trial.patient()
        closed = _post(trial, second, "plasma", "coord", {}, "closed")
        assert closed.status_code == 409
        assert "from protocol version 1.2" in closed.json()["detail"]
        listed = trial.get("/randomizations/plasma", "coord")
        assert [r["patient_id"] for r in listed.json()] == [first]  # a closed part's allocations stay
    files = zipfile.ZipFile(io.BytesIO(trial.get("/export?format=csv", "monitor").content))
    rows = list(csv.DictReader(io.StringIO(files.read("randomization_plasma.csv").decode())))
    assert [(r["patient_id"], r["arm"], r["protocol_version"]) for r in rows] == [
        (f"P-{first:06d}", made.json()["arm"], "1.1")]
    assert trial.get("/aggregates", "dmc").json()["further_randomizations"]["plasma"]["total"] == 1
    assert replay_trial(world.db, trial.id).identical
    assert verify(world.db).ok


def test_opening_and_closing_parts_is_checked_in_the_protocol():
    later, latest = dt.date(2020, 6, 1), dt.date(2020, 7, 1)
    assert validate_text(_opened_and_closed(later, latest), "plasma.yaml").valid
    unknown = _opened_and_closed(later, latest).replace("part: plasma, reason", "part: serum, reason")
    problems = {p.field: p.message for p in validate_text(unknown, "plasma.yaml").errors}
    assert problems["amendments[1].changes[0].part"] == ("no further randomization 'serum' is open at this date "
                                                         "(open: plasma)")
    reopened = _opened_and_closed(later, latest) + """  - version: "1.3"
    effective_date: 2020-08-01
    summary: Plasma again.
    changes:
      - change: add-further-randomization
        part:
          id: plasma
          name: Plasma again
          arms:
            - {id: plasma, name: Convalescent plasma, role: experimental}
            - {id: no-plasma, name: No plasma, role: usual-care}
          randomization: {method: simple}
"""
    problems = {p.field: p.message for p in validate_text(reopened, "plasma.yaml").errors}
    assert "was closed before" in problems["amendments[2].changes[0].part.id"]
    bad = _opened_and_closed(later, latest).replace("randomization: {method: simple}", "randomization: {method: list}")
    problems = {p.field: p.message for p in validate_text(bad, "plasma.yaml").errors}
    assert "not list" in problems["amendments[0].changes[0].part.randomization.method"]
