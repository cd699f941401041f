"""The audit trail verified on a schedule by the running server (AUD-8: a nightly verification job).

``equipoise audit verify`` checks the trail whenever an operator runs it; a server also checks it by itself
every ``EQUIPOISE_VERIFY_INTERVAL`` seconds (a day by default) and records the outcome in the trail
(``audit.verified``: whether it is intact, how many entries, the head hash, the first bad entry), so a
regulator sees that it was checked and when, and a failure is logged as an error at once. With several server
processes only one checks per interval: a process skips when another recorded a check in the last half
interval.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from equipoise.integrity.audit_verify import VerifyReport, verify
from equipoise.store.audit import AuditContext, record_event
from equipoise.store.db import Database
from equipoise.store.models import AuditEntry
from equipoise.store.types import utcnow

log = logging.getLogger("equipoise.audit")
ACTION = "audit.verified"


def verify_and_record(db: Database, interval_seconds: float = 0) -> VerifyReport | None:
    """Verify the trail and record the outcome; None when another process checked within half the interval."""
    if interval_seconds > 0:
        with db.read() as s:
            last = s.scalar(select(AuditEntry.at).where(AuditEntry.action == ACTION).order_by(AuditEntry.id.desc())
                            .limit(1))
        if last is not None:
            age = utcnow() - dt.datetime.fromisoformat(last)
            if age < dt.timedelta(seconds=interval_seconds / 2):
                return None
    report = verify(db)
    with db.write(AuditContext(actor="server", source="scheduled verification")) as s:
        record_event(s, ACTION, details={"ok": report.ok, "entries": report.entries, "records": report.records,
                                         "head_hash": report.head_hash, "findings": len(report.findings),
                                         "first_bad_entry": report.first_bad_entry,
                                         "allocations": report.allocations,
                                         "key_checked": report.key is not None and report.key.checked})
    if not report.ok:
        # The message names where, never a value (values may be secret).
        log.error("audit trail verification FAILED: %d finding(s), first bad entry %s", len(report.findings),
                  report.first_bad_entry)
    return report
