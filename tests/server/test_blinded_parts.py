"""RND-6 with blinding: a double-blind factorial part (COVID-OUT's design: metformin, ivermectin and
fluvoxamine each against its own placebo; Bramante et al., NEJM 2022). Sites get a kit code, never the part's
arm; blinded roles see it masked in every view, export and audit entry; the unblinded roles see it; an
emergency unblinding reveals it with the main arm; the planned unblinding opens it to all."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
import zipfile
from typing import Any

import xmlschema

from equipoise.integrity.audit_verify import verify
from equipoise.protocol import validate_text
from equipoise.services.replay import replay_trial
from tests.forms.conftest import Trial, World, world
from tests.forms.test_exports import odm_schema
from tests.store.support import DEMO, PASSWORD

__all__ = ["odm_schema", "world"]

PART = """
further_randomizations:
  - id: ivermectin
    name: Factorial part, ivermectin or its placebo
    blinding: double-blind
    arms:
      - {id: ivermectin, name: Ivermectin 400 ug/kg for 3 days, role: experimental, kit_prefix: IVM}
      - {id: ivermectin-placebo, name: Placebo of ivermectin, role: placebo, kit_prefix: IVM}
    randomization: {method: permuted-blocks, block_sizes: [2, 4]}
"""
ODM = "{http://www.cdisc.org/ns/odm/v1.3}"


def _post(trial: Trial, pid: int, user: str, key: str) -> Any:
    return trial.world.client.post(f"{trial.base}/patients/{pid}/randomizations/ivermectin", json={"values": {}},
                                   headers=trial.h(user, **{"Idempotency-Key": key}))


def _files(trial: Trial, user: str, query: str = "format=all") -> zipfile.ZipFile:
    response = trial.get(f"/export?{query}", user)
    assert response.status_code == 200, response.text
    return zipfile.ZipFile(io.BytesIO(response.content))


def _csv(files: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files.read(name).decode())))


def test_sites_get_a_kit_code_and_blinded_roles_never_see_the_parts_arm(world: World,
                                                                         odm_schema: xmlschema.XMLSchema):
    trial = world.trial(DEMO.read_text() + PART)
    pid = trial.patient()
    made = _post(trial, pid, "coord", "iv-1")
    assert made.status_code == 201, made.text
    kit = made.json()["kit_code"]
    assert kit.startswith("IVM-")
    assert (made.json()["arm"], made.json()["arm_name"]) == (None, None)
    retry = _post(trial, pid, "coord", "iv-1")
    assert (retry.status_code, retry.json()["kit_code"], retry.json()["arm"]) == (200, kit, None)
    again = _post(trial, pid, "investigator", "iv-2")
    assert again.status_code == 409
    assert kit in again.json()["detail"]
    assert "ivermectin-placebo" not in again.json()["detail"].replace("randomized in ivermectin", "")
    for user in ("coord", "monitor", "blinded_stat"):
        listed = trial.get(f"/patients/{pid}/randomizations", user).json()
        assert [(r["kit_code"], r["arm"]) for r in listed] == [(kit, None)], user
    arm = trial.get("/randomizations/ivermectin", "unblinded_stat").json()[0]["arm"]
    assert arm in {"ivermectin", "ivermectin-placebo"}
    # Exports by a blinded role: the kit, never the arm, in every file (audit trail included).
    blinded = _files(trial, "monitor")
    assert [(r["kit_code"], r["arm"]) for r in _csv(blinded, "randomization_ivermectin.csv")] == [(kit, "masked")]
    assert {r["arm_ivermectin"] for r in _csv(blinded, "analysis.csv")} == {"masked"}
    entries = [r for r in _csv(blinded, "audit_log.csv") if r["table"] == "part_allocations"]
    assert entries
    assert all(json.loads(r["new_values"])["arm"] == "(blinded)" for r in entries)
    leaks = [(r["table"], r["action"]) for r in _csv(blinded, "audit_log.csv") for side in ("old_values", "new_values")
             if r[side] and arm in [v for k, v in json.loads(r[side]).items() if k != "part_id"]]
    assert leaks == []  # no entry carries the part's arm as a value (the part itself is named ivermectin)
    odm = blinded.read("odm.xml").decode()
    assert [str(e) for e in odm_schema.iter_errors(odm)] == []
    subject = next(s for s in ET.fromstring(odm).iter(f"{ODM}SubjectData") if s.get("SubjectKey") == f"P-{pid:06d}")
    form = next(f for f in subject.iter(f"{ODM}FormData") if f.get("FormOID") == "F.RANDOMIZATION.ivermectin")
    items = {i.get("ItemOID"): i.get("Value") for i in form.iter(f"{ODM}ItemData")}
    assert items["IT.RANDOMIZATION.ivermectin.kit_code"] == kit
    assert "IT.RANDOMIZATION.ivermectin.arm" not in items
    assert [r["arm"] for r in _csv(_files(trial, "unblinded_stat", "format=csv&unblinded=true"),
                                   "randomization_ivermectin.csv")] == [arm]
    # An emergency unblinding reveals every treatment the patient may have had, and says so to the unblinded.
    opened = trial.post(f"/patients/{pid}/emergency-unblind", "investigator",
                        {"reason": "suspected overdose", "password": PASSWORD})
    assert opened.status_code == 200, opened.text
    assert opened.json()["further_randomizations"] == [
        {"part_id": "ivermectin", "kit_code": kit, "arm": arm, "arm_name": next(
            a for a in ("Ivermectin 400 ug/kg for 3 days", "Placebo of ivermectin")
            if (a == "Placebo of ivermectin") == (arm == "ivermectin-placebo"))}]
    notices = trial.get("/notifications", "unblinded_stat").json()
    assert any(f"ivermectin kit {kit}" in n["message"] for n in notices if n["kind"] == "emergency-unblinding")
    assert trial.get(f"/patients/{pid}/randomizations", "coord").json()[0]["arm"] is None  # still blinded to the site
    # The planned unblinding opens the part with the trial.
    assert trial.post("/unblind", "unblinded_stat", {"reason": "final analysis", "password": PASSWORD}
                      ).status_code == 200
    assert trial.get(f"/patients/{pid}/randomizations", "coord").json()[0]["arm"] == arm
    assert replay_trial(world.db, trial.id).identical
    assert verify(world.db).ok


def test_a_blinded_part_needs_a_blinded_trial_and_one_kit_prefix():
    def problems(text: str) -> dict[str, str]:
        return {p.field: p.message for p in validate_text(text, "factorial.yaml").errors}

    assert validate_text(DEMO.read_text() + PART, "factorial.yaml").valid
    open_label = DEMO.read_text().replace("  blinding: double-blind\n", "  blinding: open-label\n", 1) + PART
    assert "needs a blinded trial" in problems(open_label)["further_randomizations[0].blinding"]
    no_prefix = DEMO.read_text() + PART.replace(", kit_prefix: IVM}", "}", 1)
    assert "needs a kit code prefix" in problems(no_prefix)["further_randomizations[0].arms[0].kit_prefix"]
    two = DEMO.read_text() + PART.replace("role: placebo, kit_prefix: IVM", "role: placebo, kit_prefix: PBO")
    assert any("would reveal the arm" in m for m in problems(two).values())
