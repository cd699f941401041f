"""AUD-8: the running server verifies the audit trail on a schedule and records each check in the trail; a
tampered trail is recorded as failed and logged as an error."""

from __future__ import annotations

import logging
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from equipoise.identity.security_settings import Settings
from equipoise.integrity.scheduled_verify import ACTION, verify_and_record
from equipoise.server import create_app
from equipoise.store.db import Database
from equipoise.store.models import AuditEntry, Patient
from tests.server.conftest import TRIAL, Api, eligible, seed


def _checks(db: Database) -> list[dict[str, object]]:
    with db.read() as s:
        return [dict(e.new_values or {}) for e in s.scalars(select(AuditEntry).where(AuditEntry.action == ACTION)
                                                           .order_by(AuditEntry.id))]


def test_a_check_is_recorded_and_a_tampered_trail_is_logged(api: Api, caplog: pytest.LogCaptureFixture):
    api.client.post(f"/api/trials/{TRIAL}/patients", json={"site_id": "pumch", "values": eligible()},
                    headers=api.headers("coord"))
    report = verify_and_record(api.db)
    assert report is not None
    assert report.ok
    assert _checks(api.db)[-1]["ok"] is True
    assert _checks(api.db)[-1]["key_checked"] is True  # issue 14: checked against the audit key, not SHA-256 only
    # Another process checked a moment ago: this one skips.
    assert verify_and_record(api.db, interval_seconds=3600) is None
    with api.db.write_engine.begin() as conn:
        conn.execute(update(Patient).values(site_id="milan-sacco"))
    with caplog.at_level(logging.ERROR, logger="equipoise.audit"):
        failed = verify_and_record(api.db)
    assert failed is not None
    assert not failed.ok
    checks = _checks(api.db)
    assert checks[-1]["ok"] is False
    assert int(str(checks[-1]["findings"])) >= 1
    assert "verification FAILED" in caplog.text
    assert "milan" not in caplog.text  # where, never what


def test_the_server_checks_by_itself_on_its_schedule(db: Database):
    seed(db)
    with TestClient(create_app(db, Settings(verify_interval_seconds=1))):
        deadline = time.monotonic() + 60
        while not _checks(db) and time.monotonic() < deadline:
            time.sleep(0.2)
    checks = _checks(db)
    assert checks, "no scheduled verification was recorded"
    assert checks[0]["ok"] is True
