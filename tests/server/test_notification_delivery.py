"""UNB-1: notifications reach another system. A real HTTP receiver on 127.0.0.1 gets each notification once, signed;
a failure is tried again later; the deliveries are audited; the running server delivers by itself."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from equipoise.identity.security_settings import Settings
from equipoise.integrity.audit_verify import verify
from equipoise.server import create_app
from equipoise.services.notification_delivery import deliver_pending
from equipoise.store.db import Database
from equipoise.store.delivery_models import NotificationDelivery
from equipoise.store.models import AuditEntry
from tests.server.conftest import TRIAL, Api, eligible
from tests.store.support import PASSWORD

SECRET = "a shared secret for the safety database"


@dataclass
class Receiver:
    url: str
    answers: list[int]  # the status of each answer in turn (then 200)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver("", [])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.answers.pop(0) if state.answers else 200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/safety/notices?token=abc"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _unblind(api: Api) -> int:
    pid = api.client.post(f"/api/trials/{TRIAL}/patients", json={"site_id": "pumch", "values": eligible()},
                          headers=api.headers("coord")).json()["id"]
    assert api.client.post(f"/api/trials/{TRIAL}/patients/{pid}/randomize",
                           headers=api.headers("coord", **{"Idempotency-Key": f"n-{pid}"})).status_code == 201
    unblinded = api.client.post(f"/api/trials/{TRIAL}/patients/{pid}/emergency-unblind",
                                json={"reason": "anaphylaxis", "password": PASSWORD},
                                headers=api.headers("investigator"))
    assert unblinded.status_code == 200, unblinded.text
    return int(pid)


def test_each_notification_is_delivered_once_signed_and_retried_after_a_failure(api: Api, receiver: Receiver):
    pid = _unblind(api)
    receiver.answers = [503]
    t0 = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
    first = deliver_pending(api.db, receiver.url, SECRET, now=lambda: t0)
    assert (first.delivered, list(first.failed.values())) == ([], ["HTTP 503"])
    assert deliver_pending(api.db, receiver.url, SECRET, now=lambda: t0 + dt.timedelta(seconds=10)).to_dict() == {
        "delivered": [], "failed": {}}  # not due again before 30 s
    second = deliver_pending(api.db, receiver.url, SECRET, now=lambda: t0 + dt.timedelta(seconds=31))
    assert len(second.delivered) == 1
    assert deliver_pending(api.db, receiver.url, SECRET, now=lambda: t0 + dt.timedelta(hours=2)).delivered == []
    assert len(receiver.received) == 2
    headers, body = receiver.received[-1]
    assert headers["x-equipoise-signature"] == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    notice = json.loads(body)
    assert (notice["kind"], notice["patient"], notice["trial_id"]) == ("emergency-unblinding", f"P-{pid:06d}", TRIAL)
    assert headers["x-equipoise-delivery"] == str(notice["id"])
    # The notice names no arm (the trial id and kit codes start with MSC; the arm ids and names do not show).
    assert [word for word in (b'"msc"', b"placebo", b"UC-MSC infusion", b'"arm"') if word in body] == []
    with api.db.read() as s:
        row = s.scalars(select(NotificationDelivery)).one()
        trail = s.scalars(select(AuditEntry).where(AuditEntry.table_name == "notification_deliveries")).all()
    assert (row.status, row.attempts, row.response_status, row.last_error) == ("delivered", 2, 200, None)
    assert row.target == receiver.url.split("?")[0]  # no query string (it may hold a token) in the record
    assert [e.action for e in trail] == ["insert", "update", "update", "update"]
    assert verify(api.db).ok


def test_an_unreachable_receiver_is_reported_and_nothing_breaks(api: Api):
    _unblind(api)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    report = deliver_pending(api.db, closed, SECRET, timeout=2)
    (why,) = report.failed.values()
    assert "ConnectionRefusedError" in why or "URLError" in why
    with api.db.read() as s:
        assert s.scalars(select(NotificationDelivery.status)).one() == "pending"


def test_the_running_server_delivers_by_itself(db: Database, receiver: Receiver):
    from tests.server.conftest import USERS, seed

    seed(db)
    settings = Settings(notify_url=receiver.url, notify_secret=SECRET, notify_interval_seconds=1)
    with TestClient(create_app(db, settings)) as client:
        tokens: dict[str, str] = {
            name: client.post("/api/auth/login", json={"username": name, "password": PASSWORD}).json()["token"]
            for name in ("coord", "investigator") if name in USERS}
        _unblind(Api(client, db, tokens))
        deadline = time.monotonic() + 20
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.1)
    assert len(receiver.received) == 1
    assert json.loads(receiver.received[0][1])["kind"] == "emergency-unblinding"
