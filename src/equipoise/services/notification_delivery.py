"""Notifications delivered to another system by webhook (UNB-1, RND-9, RND-12: the sponsor's pharmacovigilance
database or the team's alerting is told, not only the users who log in).

With ``EQUIPOISE_NOTIFY_URL`` set, the server POSTs every notification once as JSON: its id, trial, kind,
patient code, message and time (the message never names an arm; see ``unblinding``). The body is signed with
HMAC-SHA256 under ``EQUIPOISE_NOTIFY_SECRET`` (header ``X-Equipoise-Signature: sha256=<hex>``, the GitHub
webhook convention) so the receiver can tell it came from this server; ``X-Equipoise-Delivery`` carries the
notification id so a receiver can drop a repeat. Every notification is sent, those made before the URL was set
too. A 2xx answer is a delivery; anything else, or no answer, is
tried again after 30 s, 1 min, 2 min, ... up to an hour between attempts. Each attempt is claimed in a write
transaction before the request, so several server processes never send the same attempt twice (delivery is
still at least once: a receiver that answers too late may get the notice again). Attempts and the delivery are
audited (``notification_deliveries``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from equipoise.store.audit import AuditContext
from equipoise.store.db import Database
from equipoise.store.delivery_models import NotificationDelivery
from equipoise.store.models import Notification, patient_code
from equipoise.store.types import iso, utcnow

CONTEXT = AuditContext(actor="server", source="notification delivery")
FIRST_RETRY = dt.timedelta(seconds=30)
LONGEST_WAIT = dt.timedelta(hours=1)
BATCH = 100
Post = Callable[[str, bytes, dict[str, str], float], int]  # url, body, headers, timeout -> HTTP status


@dataclass
class DeliveryReport:
    delivered: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)  # notification id -> why

    def to_dict(self) -> dict[str, object]:
        return {"delivered": self.delivered, "failed": self.failed}


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def target_of(url: str) -> str:
    """The URL as recorded: no user, password, query or fragment (they may hold credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return urlunsplit((parts.scheme, f"{host}:{parts.port}" if parts.port else host, parts.path, "", ""))


def post_json(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    # The standard library's client: one POST per notice does not justify another dependency.
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def deliver_pending(db: Database, url: str, secret: str, *, now: Callable[[], dt.datetime] = utcnow,
                    post: Post = post_json, timeout: float = 10.0) -> DeliveryReport:
    """Send every notification not yet delivered whose next attempt is due; return what happened."""
    report = DeliveryReport()
    target = target_of(url)
    for notification_id in _due(db, target, now()):
        payload = _claim(db, notification_id, target, now())
        if payload is None:
            continue  # another process claimed it first
        body = json.dumps(payload, sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "Equipoise",
                   "X-Equipoise-Delivery": str(notification_id), "X-Equipoise-Signature": signature(secret, body)}
        try:
            status: int | None = post(url, body, headers, timeout)
            error = None if status is not None and 200 <= status < 300 else f"HTTP {status}"
        except (OSError, ValueError) as exc:  # refused, timed out, unreachable, a malformed URL
            status, error = None, f"{type(exc).__name__}: {exc}"[:500]
        _record(db, notification_id, status, error, now())
        if error is None:
            report.delivered.append(notification_id)
        else:
            report.failed[notification_id] = error
    return report


def _due(db: Database, target: str, at: dt.datetime) -> list[int]:
    with db.read() as s:
        # Delivered notices are most of them in a long trial: the database leaves them out.
        rows = s.execute(select(Notification.id, NotificationDelivery.status, NotificationDelivery.attempts,
                                NotificationDelivery.last_attempt_at)
                         .outerjoin(NotificationDelivery, NotificationDelivery.notification_id == Notification.id)
                         .where(or_(NotificationDelivery.status.is_(None), NotificationDelivery.status != "delivered"))
                         .order_by(Notification.id)).all()
    due = []
    for notification_id, status, attempts, last in rows:
        if status is None or last is None or at >= last + _wait(attempts):
            due.append(notification_id)
        if len(due) >= BATCH:
            break
    return due


def _wait(attempts: int) -> dt.timedelta:
    wait: dt.timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(wait, LONGEST_WAIT)


def _claim(db: Database, notification_id: int, target: str, at: dt.datetime) -> dict[str, Any] | None:
    """Count the attempt before sending it (a row lock serializes processes); the payload, or None if it is not
    due any more."""
    try:
        with db.write(CONTEXT) as s:
            notification = s.get(Notification, notification_id)
            assert notification is not None
            row = s.scalars(select(NotificationDelivery).where(NotificationDelivery.notification_id ==
                                                               notification_id).with_for_update()).one_or_none()
            if row is None:
                row = NotificationDelivery(trial_id=notification.trial_id, notification_id=notification_id,
                                           target=target, status="pending", attempts=0)
                s.add(row)
            elif row.status == "delivered" or (row.last_attempt_at is not None
                                               and at < row.last_attempt_at + _wait(row.attempts)):
                return None
            row.attempts += 1
            row.last_attempt_at = at
            row.target = target
            s.flush()
            return {"id": notification.id, "trial_id": notification.trial_id, "kind": notification.kind,
                    "patient": patient_code(notification.patient_id) if notification.patient_id else None,
                    "message": notification.message, "created_at": iso(notification.created_at)}
    except IntegrityError:  # another process made the row at the same moment: it sends this attempt
        return None


def _record(db: Database, notification_id: int, status: int | None, error: str | None, at: dt.datetime) -> None:
    with db.write(CONTEXT) as s:
        row = s.scalars(select(NotificationDelivery).where(NotificationDelivery.notification_id ==
                                                           notification_id)).one()
        row.response_status = status
        row.last_error = error
        if error is None:
            row.status = "delivered"
            row.delivered_at = at
