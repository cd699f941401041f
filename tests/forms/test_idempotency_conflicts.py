"""An Idempotency-Key sent again with a different request is refused with 422 naming what differs (IETF
draft-ietf-httpapi-idempotency-key-header); the same request is replayed as before. Before, a second patient
sent under a used key (age 70 instead of 50) was answered with the first patient and never enrolled."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from equipoise.store.models import Patient
from tests.forms.conftest import Trial, World, demo_values


def _patients(world: World, trial: Trial) -> int:
    with world.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(Patient).where(Patient.trial_id == trial.id)) or 0)


def _post(trial: Trial, path: str, key: str, body: object) -> Any:
    return trial.world.client.post(trial.base + path, json=body, headers=trial.h("coord", **{"Idempotency-Key": key}))


def test_enrolment_with_a_reused_key_and_another_patient_is_refused(world: World, trial: Trial):
    first = _post(trial, "/patients", "k-enrol", {"site_id": "pumch", "values": demo_values(world.today(), age=50)})
    assert first.status_code == 201, first.text
    again = _post(trial, "/patients", "k-enrol", {"site_id": "pumch", "values": demo_values(world.today(), age=50)})
    assert again.status_code in (200, 201), again.text
    assert again.json()["id"] == first.json()["id"]
    other = _post(trial, "/patients", "k-enrol", {"site_id": "pumch", "values": demo_values(world.today(), age=70)})
    assert other.status_code == 422, other.text
    assert other.json()["fields"] == ["age"]
    assert "Idempotency-Key was already used for a different request" in other.json()["detail"]
    assert _patients(world, trial) == 1


def test_enrol_and_randomize_with_a_reused_key_and_another_patient_is_refused(world: World, trial: Trial):
    body = {"site_id": "pumch", "values": demo_values(world.today(), age=50)}
    first = _post(trial, "/enrol-and-randomize", "k-both", body)
    assert first.status_code == 201, first.text
    replay = _post(trial, "/enrol-and-randomize", "k-both", body)
    assert replay.status_code == 200, replay.text
    assert replay.json()["replayed"] is True
    other = _post(trial, "/enrol-and-randomize", "k-both",
                  {"site_id": "pumch", "values": demo_values(world.today(), age=70, severity="mild")})
    assert other.status_code == 422, other.text
    assert other.json()["fields"] == ["age", "severity"]
    assert _patients(world, trial) == 1


def test_randomizing_another_patient_with_a_used_key_is_refused(world: World, trial: Trial):
    one, two = trial.enrol(), trial.enrol()
    first = _post(trial, f"/patients/{one}/randomize", "k-rand", None)
    assert first.status_code == 201, first.text
    assert _post(trial, f"/patients/{one}/randomize", "k-rand", None).status_code == 200
    other = _post(trial, f"/patients/{two}/randomize", "k-rand", None)
    assert other.status_code == 422, other.text
    assert other.json()["fields"] == ["patient_id"]
