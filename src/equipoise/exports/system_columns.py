"""What the export's system columns mean: the columns the server writes beside the protocol's fields (who, when,
status, version, keys) in ``patients.csv``, the form files, ``queries.csv``, ``signatures.csv``,
``audit_trail.csv``, ``audit_log.csv`` and the others, for the data dictionary.

Labels are looked up by file kind and column, then among the columns every file shares (``table.COMMON_LABELS``).
"""

from __future__ import annotations

FORM_FILE = "form"  # the kind of every form_<form>.csv

LABELS: dict[str, dict[str, str]] = {
    "patients": {
        "patient_number": "Internal patient number (the API also takes the patient code)",
        "status": "Patient status: enrolled (not yet randomized) or randomized",
        "enrolment_date": "Date of enrolment (site's local date)",
        "enrolled_at": "Time of enrolment (UTC)",
        "protocol_version": "Protocol version in force at the site at enrolment",
        "locked": "Casebook locked by the monitor",
    },
    FORM_FILE: {
        "status": "Record status: complete, incomplete (saved with required fields empty) or not-done",
        "not_done_reason": "Why the form will not be collected (status not-done)",
        "version": "Record version: 1 at the first save, one more at each change",
        "protocol_version": "Protocol version the record was last saved under",
        "locked": "Record locked by the monitor (no change without unlocking)",
    },
    "allocations": {
        "randomized_at": "Time of randomization (UTC)",
        "protocol_version": "Protocol version in force at the site when randomized",
    },
    "queries": {
        "query_id": "Query number",
        "form": "Form id",
        "instance": "Record number at the visit (repeating forms)",
        "field": "Field the query is about (empty: the whole form)",
        "status": "open, answered or closed",
        "raised_at": "When the query was raised (UTC)",
        "raised_by": "User who raised it (the monitor)",
        "question": "The question as raised",
        "answer": "The site's last answer",
        "answered_at": "When it was last answered (UTC)",
        "answered_by": "User who last answered it",
        "closed_at": "When it was closed (UTC)",
        "closed_by": "User who closed it",
        "messages": "Messages in the thread (raised, answered, closed, reopened)",
    },
    "signatures": {
        "signature_id": "Signature number",
        "scope": "What was signed: a form record or the whole casebook",
        "form": "Form id (a form's signature)",
        "visit": "Visit id (a form's signature)",
        "instance": "Record number at the visit (a form's signature)",
        "printed_name": "The signer's printed name (21 CFR 11.50)",
        "username": "The signer's user name",
        "signed_at": "When it was signed (UTC)",
        "meaning": "Meaning of the signature: approval, review, responsibility or authorship",
        "statement": "The statement the signer signed",
        "status": "valid, or invalidated (a later edit or an unlock)",
        "invalidation": "Who invalidated it, when and why",
        "content_sha256": "SHA-256 of the signed content",
    },
    "audit_trail": {
        "entry_id": "Audit entry number (the same entry in audit_log.csv and the live trail)",
        "at": "When the change was made (UTC)",
        "user": "User who made the change",
        "action": "What was done: create, update, ...",
        "form": "Form id (enrolment: an enrolment value)",
        "field": "Field changed",
        "old_value": "Value before the change (empty: none)",
        "new_value": "Value after the change",
        "reason": "Reason for the change, 'label: words'",
        "source": "Where the change came from (client address or command)",
    },
    "audit_log": {
        "entry_id": "Audit entry number (its position in the hash chain)",
        "at": "When (UTC)",
        "user": "User name of who did it",
        "user_name": "Printed name of who did it",
        "action": "What was done (create, update, randomize, unblind, sign, export, ...)",
        "table": "Audited table of the record changed (empty: an event)",
        "record_id": "Key of the record in that table",
        "site_id": "Site whose record or event it is",
        "reason": "Reason given",
        "source": "Where the request came from (client address or command)",
        "protocol_version": "Protocol version in force",
        "app_version": "Equipoise version that wrote the entry",
        "old_values": "Values before, as JSON (secrets masked)",
        "new_values": "Values after, as JSON (secrets masked)",
        "prev_hash": "Hash of the previous entry (SHA-256 chain)",
        "hash": "This entry's hash",
    },
}

# Files that describe the study rather than hold its data: the dictionary does not describe their columns.
REFERENCE_FILES = frozenset({"data_dictionary", "field_versions"})


def file_kind(table_name: str) -> str:
    return FORM_FILE if table_name.startswith("form_") else table_name


def system_label(table_name: str, column: str) -> str | None:
    return LABELS.get(file_kind(table_name), {}).get(column)
