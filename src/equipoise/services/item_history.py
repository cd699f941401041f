"""Field-level history from the audit trail: what changed in a JSON column of values, entry by entry.

The trail stores the old and new value of each changed column; for the columns that hold a form's values
(``form_records.field_values``) or a patient's enrolment values (``patients.enrolment_values``) this module turns
each entry into one change per field (ODM's item-level AuditRecord; 21 CFR 11.10(e) "who, what, when, why").
"""

from __future__ import annotations

from typing import Any

from equipoise.store.audit import json_value
from equipoise.store.models import AuditEntry


def item_changes(entry: AuditEntry, column: str = "field_values") -> list[dict[str, Any]]:
    """The field-level changes of one audit entry (a status-only change of a form gives one 'status' item)."""
    old_row, new_row = entry.old_values or {}, entry.new_values or {}
    base = {"entry_id": entry.id, "at": entry.at, "user": entry.actor, "user_id": entry.actor_id,
            "reason": entry.reason, "source": entry.source}
    old: dict[str, Any]
    new: dict[str, Any]
    if entry.action == "insert":
        old, new = {}, new_row.get(column) or {}
    elif column in new_row or column in old_row:
        old, new = old_row.get(column) or {}, new_row.get(column) or {}
    else:
        old = new = {}
    changes = []
    for key in [*new, *(k for k in old if k not in new)]:
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        action = "insert" if before is None else ("remove" if after is None else "update")
        changes.append({**base, "action": action, "field": key, "old": json_value(before), "new": json_value(after)})
    if column == "field_values" and entry.action in ("insert", "update") and "status" in new_row and not changes:
        changes.append({**base, "action": "status", "field": None, "old": old_row.get("status"),
                        "new": new_row.get("status")})
    return changes
