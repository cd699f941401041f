"""Issue 5's "How it will be checked", end to end: `equipoise serve` on the demo trial (with its virtual patients),
a scripted walk through the HTTP API as each demo user, then the committee's reports through the same API (the
token's role decides what it may read), and the audit trail and the allocations verified afterwards.

The in-process tests in tests/server and tests/forms check each rule on its own; this one runs the real server
process on the database that `make run` builds."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from equipoise.cli.serve_commands import DEMO_PASSWORD
from tests.forms.conftest import site_date
from tests.integration.conftest import TRIAL, Demo, cli
from tests.store.support import DEMO

BASE = f"/api/trials/{TRIAL}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, url: str, log: Path) -> None:
        self.db = url
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "equipoise.cli.main", "serve", "--db", url, "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, "EQUIPOISE_IDLE_TIMEOUT": "3600"})
        self.client = httpx.Client(base_url=self.base, timeout=60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {log.read_text()}")
            try:
                if self.client.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the server did not start within 60 s")
        self.tokens = {u: self.login(u) for u in
                       ("admin", "coordinator", "investigator", "milan", "monitor", "statistician", "unblinded", "dmc")}

    def login(self, user: str) -> str:
        response = self.client.post("/api/auth/login", json={"username": user, "password": DEMO_PASSWORD})
        assert response.status_code == 200, response.text
        return str(response.json()["token"])

    def as_(self, user: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}", **extra}

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def server(populated: Demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("served")
    running = Server(populated.copy(directory), directory / "server.log")
    yield running
    running.stop()


def values(**changes: object) -> dict[str, object]:
    today = site_date()
    base: dict[str, object] = {"age": 58, "sex": "male", "severity": "critical", "sars_cov_2_pcr": True,
                               "symptom_onset": (today - dt.timedelta(days=4)).isoformat(), "who_baseline": 7,
                               "pregnant": False, "malignancy": False, "consent": True}
    return {**base, **changes}


def test_a_walk_through_the_api_as_each_role(server: Server):
    c = server.client
    # the demo trial is running: patients, forms, queries from the virtual population
    assert len(c.get(f"{BASE}/patients", params={"limit": 500}, headers=server.as_("monitor")).json()) == 60
    # coordinator: an ineligible patient is refused with the criteria, an eligible one is enrolled
    refused = c.post(f"{BASE}/patients", json={"site_id": "pumch", "values": values(age=16, consent=False)},
                     headers=server.as_("coordinator"))
    assert refused.status_code == 422
    assert {f["id"] for f in refused.json()["failed"]} == {"adult", "consent"}
    enrolled = c.post(f"{BASE}/patients", json={"site_id": "pumch", "values": values()},
                      headers=server.as_("coordinator"))
    assert enrolled.status_code == 201, enrolled.text
    pid = enrolled.json()["id"]
    # randomize, then retry with the same key: the same allocation, a kit code and no arm for the blinded site
    first = c.post(f"{BASE}/patients/{pid}/randomize", headers=server.as_("coordinator", **{"Idempotency-Key": "w1"}))
    retry = c.post(f"{BASE}/patients/{pid}/randomize", headers=server.as_("coordinator", **{"Idempotency-Key": "w1"}))
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["allocation_id"] == first.json()["allocation_id"]
    assert first.json()["arm"] is None
    assert first.json()["kit_code"].startswith("MSC-")
    # another site's coordinator does not see the patient
    assert c.get(f"{BASE}/patients/{pid}", headers=server.as_("milan")).status_code == 404
    # forms: bad values refused field by field; good values saved; a change needs a reason
    form = f"{BASE}/patients/{pid}/forms/clinical_status/baseline"
    today = site_date()
    bad = c.put(form, json={"values": {"assessment_date": (today + dt.timedelta(days=3)).isoformat(),
                                       "who_score": 11, "spo2": 120}}, headers=server.as_("coordinator"))
    assert bad.status_code == 422
    assert set(bad.json()["errors"]) == {"assessment_date", "who_score", "spo2"}
    good = {"assessment_date": today.isoformat(), "who_score": 7, "spo2": 91.0, "resp_rate": 24}
    assert c.put(form, json={"values": good}, headers=server.as_("coordinator")).status_code == 200
    changed = {**good, "spo2": 93.0}
    assert c.put(form, json={"values": changed}, headers=server.as_("coordinator")).status_code == 422
    edited = c.put(form, json={"values": changed, "reason": "transcription error"}, headers=server.as_("coordinator"))
    assert edited.status_code == 200
    assert edited.json()["version"] == 2
    # the monitor queries the form, the site answers
    query = c.post(f"{BASE}/queries", json={"patient_id": pid, "form_id": "clinical_status", "visit_id": "baseline",
                                            "field_id": "spo2", "text": "Please confirm SpO2."},
                   headers=server.as_("monitor"))
    assert query.status_code == 201
    answer = c.post(f"{BASE}/queries/{query.json()['id']}/answer", json={"text": "Confirmed from the chart."},
                    headers=server.as_("coordinator"))
    assert answer.json()["status"] == "answered"
    # the investigator signs (user name and password), then unblinds the patient in an emergency
    signed = c.post(f"{form}/sign", json={"meaning": "approval", "password": DEMO_PASSWORD,
                                          "username": "investigator"}, headers=server.as_("investigator"))
    assert signed.status_code == 201, signed.text
    assert signed.json()["status"] == "valid"
    unblinded = c.post(f"{BASE}/patients/{pid}/emergency-unblind", headers=server.as_("investigator"),
                       json={"reason": "suspected anaphylaxis", "password": DEMO_PASSWORD})
    assert unblinded.status_code == 200, unblinded.text
    assert unblinded.json()["arm"] in {"msc", "placebo"}
    notices = c.get(f"{BASE}/notifications", headers=server.as_("unblinded")).json()
    assert sum(n["kind"] == "emergency-unblinding" for n in notices) == 2  # the demo's, and this one
    # exports: the blinded statistician gets masked arms and no unblinded export; the committee gets arms
    masked = c.get(f"{BASE}/export", params={"format": "csv"}, headers=server.as_("statistician"))
    assert json.loads(zipfile.ZipFile(io.BytesIO(masked.content)).read("manifest.json"))["arms"] == "masked"
    forbidden = c.get(f"{BASE}/export", params={"format": "csv", "unblinded": "true"},
                      headers=server.as_("statistician"))
    assert forbidden.status_code == 403
    shown = c.get(f"{BASE}/export", params={"format": "csv", "unblinded": "true"}, headers=server.as_("dmc"))
    assert json.loads(zipfile.ZipFile(io.BytesIO(shown.content)).read("manifest.json"))["arms"] == "shown"
    # the administrator verifies the audit trail
    verified = c.get("/api/audit/verify", headers=server.as_("admin"))
    assert verified.status_code == 200
    assert verified.json()["ok"] is True


def test_reports_through_the_api_follow_the_tokens_role(server: Server, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EQUIPOISE_TOKEN", server.tokens["statistician"])
    opened = cli("report", "open", "--trial", TRIAL, "--server", server.base, "--protocol", DEMO, "--output",
                 tmp_path / "open.html")
    assert opened.code == 0, opened.stderr
    assert "arms masked" in (tmp_path / "open.html").read_text()
    closed = cli("report", "dmc", "--trial", TRIAL, "--server", server.base, "--protocol", DEMO, "--output",
                 tmp_path / "dmc.html")
    assert closed.code == 2
    assert "refused (403)" in closed.stderr
    assert "unblinded export is only for" in closed.stderr
    monkeypatch.setenv("EQUIPOISE_TOKEN", server.tokens["dmc"])
    closed = cli("report", "dmc", "--trial", TRIAL, "--server", server.base, "--protocol", DEMO, "--output",
                 tmp_path / "dmc.html")
    assert closed.code == 0, closed.stderr
    assert "by dmc (arms shown" in (tmp_path / "dmc.html").read_text()  # the export is the committee's, audited
    analysed = cli("analyze", "protocol", DEMO, "--trial", TRIAL, "--server", server.base, "--json")
    assert analysed.code == 0, analysed.stderr
    assert json.loads(analysed.stdout)["trial"] == TRIAL
    other = tmp_path / "other.yaml"
    other.write_text(DEMO.read_text() + "\n# a local edit\n")
    mismatch = cli("analyze", "protocol", other, "--trial", TRIAL, "--server", server.base)
    assert mismatch.code == 2
    assert "is not the protocol file" in mismatch.stderr


def test_after_the_walk_the_audit_trail_and_allocations_verify(server: Server):
    assert cli("audit", "verify", "--db", server.db).code == 0
    replay = cli("allocation", "replay", "--db", server.db)
    assert replay.code == 0, replay.stdout
    assert "every allocation identical" in replay.stdout
