"""``audit_log.csv`` (and ``.parquet``): the trial's whole audit trail in the export, for the roles that may read
it (AUD-7, RET-1).

``audit_trail.csv`` has one row per changed form or enrolment value, for data managers; this file has every
entry of the trial (randomizations, unblindings, locks, signatures, exports, queries, ...), one row each, with
its old and new values as JSON, its hash and the previous entry's hash. Secrets never leave the server:
random draws, allocation states, algorithm parameters, diagnostics and the clients' idempotency keys are
masked in every export, and arms unless the export shows arms. So the hashes identify entries of the live
trail (``equipoise audit verify`` checks them there); they cannot be recomputed from this file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from equipoise.exports.table import ColumnType, Table, columns
from equipoise.services.audit_view import MASK, SECRET_EVENT_KEYS
from equipoise.store.models import AuditEntry
from equipoise.store.schema import audited_models

KEYS = frozenset({"idempotency_key"})  # the export's other files never carry them either
INT, TEXT = ColumnType.INTEGER, ColumnType.TEXT
# record_id is text, as the trail stores it (the key of a row of any audited table)
COLUMNS = columns(("entry_id", INT), ("at", ColumnType.DATETIME), ("user", TEXT), ("user_name", TEXT),
                  ("action", TEXT), ("table", TEXT), ("record_id", TEXT), ("site_id", TEXT), ("reason", TEXT),
                  ("source", TEXT), ("protocol_version", TEXT), ("app_version", TEXT), ("old_values", TEXT),
                  ("new_values", TEXT), ("prev_hash", TEXT), ("hash", TEXT))


def audit_log_table(entries: Iterable[AuditEntry], arms_shown: bool) -> Table:
    """The table of the entries (read one by one: a stream of entries is never held whole)."""
    shown = frozenset({"arm"}) if arms_shown else frozenset()
    secrets = {m.__tablename__: (frozenset(m.__audit_secret__) | KEYS) - shown for m in audited_models()}
    rows = []
    for e in entries:
        secret = secrets.get(e.table_name or "", SECRET_EVENT_KEYS - shown)
        rows.append([e.id, e.at, e.actor, e.actor_name, e.action, e.table_name, e.record_id, e.site_id, e.reason,
                     e.source, e.protocol_version, e.app_version, _json(e.old_values, secret),
                     _json(e.new_values, secret), e.prev_hash, e.hash])
    return Table(COLUMNS, rows)


def _json(values: dict[str, Any] | None, secret: frozenset[str]) -> str | None:
    if values is None:
        return None
    return json.dumps({k: (MASK if k in secret else v) for k, v in values.items()}, sort_keys=True,
                      ensure_ascii=False, default=str)
