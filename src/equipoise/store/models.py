"""The trial server's schema (SQLAlchemy 2 declarative models).

Tables whose class sets ``__audited__ = True`` are written to the audit trail automatically on every ORM
insert, update and delete (see ``equipoise.store.audit``), and ``equipoise audit verify`` checks that each of
their current rows equals the replay of its audit history. New audited tables (case report forms, queries,
signatures, exports) need only subclass ``Base`` (``store/base.py``), set ``__audited__ = True``, give an
integer ``id`` primary key and be imported by ``store/schema.py``; nothing else in the audit mechanism changes.

Columns listed in ``__audit_digest__`` are written to the trail as a SHA-256 digest (a password hash has no
place in a readable log); columns in ``__audit_secret__`` reveal the allocation and are masked when the trail
is shown to a blinded role.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from equipoise.store.base import Base
from equipoise.store.types import UTCDateTime, utcnow

JsonDict = dict[str, Any]


class Trial(Base):
    """A trial activated from a protocol file; the file's text is kept verbatim (amendments included)."""

    __tablename__ = "trials"
    __audited__ = True

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    protocol_text: Mapped[str] = mapped_column(Text)
    protocol_sha256: Mapped[str] = mapped_column(String(64))
    blinded: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | locked (database lock)
    unblinded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    locked_by: Mapped[int | None] = mapped_column(Integer, default=None)  # a user id (users refer to trials)
    # RND-8: "production", or "test" (a copy of a trial to try it out: test lists, test data; migration 0018)
    purpose: Mapped[str] = mapped_column(String(16), default="production", server_default="production",
                                         info={"audit_default": "production"})


class User(Base):
    __tablename__ = "users"
    __audited__ = True
    __audit_digest__ = frozenset({"password_hash", "totp_secret", "totp_pending"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200), default=None)
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Two-factor login (ACC-4): the confirmed TOTP secret, one being set up, the last time step used.
    # Single sign-on (ACC-4, migration 0019): "<issuer>|<subject>" of the identity bound at the first OIDC login
    oidc_subject: Mapped[str | None] = mapped_column(String(300), default=None, info={"audit_default": None})
    totp_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    totp_pending: Mapped[str | None] = mapped_column(String(64), default=None)
    totp_last_step: Mapped[int | None] = mapped_column(Integer, default=None)


class Membership(Base):
    """A role held by a user: system-wide (admin) or in one trial, optionally limited to one site."""

    __tablename__ = "memberships"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    trial_id: Mapped[str | None] = mapped_column(ForeignKey("trials.id"), default=None)
    role: Mapped[str] = mapped_column(String(32))
    site_id: Mapped[str | None] = mapped_column(String(64), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuthSession(Base):
    """A login session or an API token; only the HMAC of the token under the server's key is stored (``audit_keys``), so
    a row written into the database by hand gives no working token. Not audited (logins are)."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "session" or "api-token"
    name: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class Patient(Base):
    """An enrolled (eligible) patient. ``enrolment_values`` can be corrected; the allocation's copy cannot."""

    __tablename__ = "patients"
    __audited__ = True
    __table_args__ = (UniqueConstraint("trial_id", "idempotency_key", name="uq_patients_trial_idempotency"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.id"), index=True)
    site_id: Mapped[str] = mapped_column(String(64))
    enrolment_values: Mapped[JsonDict] = mapped_column(JSON)
    enrolment_date: Mapped[dt.date] = mapped_column(Date)
    protocol_version: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="enrolled")  # enrolled | randomized
    idempotency_key: Mapped[str | None] = mapped_column(String(100), default=None)
    enrolled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    enrolled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def code(self) -> str:
        return patient_code(self.id)


def patient_code(patient_id: int) -> str:
    return f"P-{patient_id:06d}"


PATIENT_REFERENCE_PATTERN = r"^([Pp]-)?[0-9]+$"  # P-000121 or 121
_MAX_PATIENT_NUMBER = 2_147_483_647  # the largest INTEGER on PostgreSQL: larger ids cannot exist


def patient_number(reference: str | int) -> int:
    """The patient a reference names: the code a coordinator reads (``P-000121``) or the number (``121``).

    Every route and command that takes a patient goes through this one resolver, so the code printed on every
    screen, export and label is accepted wherever the number is. Raises ``ValueError`` with a one-line reason."""
    if isinstance(reference, bool):
        raise ValueError(f"{reference!r} is not a patient code (P-000121) or number (121)")
    text = str(reference).strip()
    digits = text[2:] if text[:2] in ("P-", "p-") else text
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(f"{text!r} is not a patient code (P-000121) or number (121)")
    number = int(digits)
    if not 1 <= number <= _MAX_PATIENT_NUMBER:
        raise ValueError(f"{text!r} is not a patient code (P-000121) or number (121): no such patient number")
    return number


class AllocationState(Base):
    """The running state of one allocation sequence (a stratum's block, minimization counts): a secret."""

    __tablename__ = "allocation_states"
    __audited__ = True
    __audit_secret__ = frozenset({"state"})
    __table_args__ = (UniqueConstraint("trial_id", "state_key", name="uq_allocation_states_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.id"))
    state_key: Mapped[str] = mapped_column(String(400))
    state: Mapped[JsonDict] = mapped_column(JSON)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Recomputable:
    """The columns ``equipoise allocation replay`` recomputes an allocation from (RND-7): the algorithm and its
    parameters, the request, the random draws, the diagnostics and the state after it. Shared by the main
    randomization's ``allocations`` and the further randomizations' ``part_allocations``."""

    method: Mapped[str] = mapped_column(String(32))
    parameters: Mapped[JsonDict] = mapped_column(JSON)
    request: Mapped[JsonDict] = mapped_column(JSON)
    draws: Mapped[list[float]] = mapped_column(JSON)
    diagnostics: Mapped[JsonDict] = mapped_column(JSON)
    state_after: Mapped[JsonDict] = mapped_column(JSON)


class Allocation(Recomputable, Base):
    """One randomization with everything needed to recompute it (RND-7): inputs, parameters, draws, state."""

    __tablename__ = "allocations"
    __audited__ = True
    __audit_secret__ = frozenset({"arm", "state_after", "draws", "diagnostics", "parameters", "request"})
    __table_args__ = (
        UniqueConstraint("trial_id", "idempotency_key", name="uq_allocations_trial_idempotency"),
        UniqueConstraint("state_id", "sequence", name="uq_allocations_state_sequence"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), unique=True)
    state_id: Mapped[int] = mapped_column(ForeignKey("allocation_states.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    stratum: Mapped[str] = mapped_column(String(400))
    factors: Mapped[JsonDict] = mapped_column(JSON)  # frozen at randomization (RND-4)
    arm: Mapped[str] = mapped_column(String(64))
    kit_code: Mapped[str | None] = mapped_column(String(40), unique=True, default=None)
    protocol_version: Mapped[str] = mapped_column(String(32))
    allocation_date: Mapped[dt.date] = mapped_column(Date)
    adaptive_table_version: Mapped[int | None] = mapped_column(Integer, default=None)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    allocated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    allocated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Discrepancy(Base):
    """A correction of a value the allocation was based on: flagged, never applied to the allocation (RND-4)."""

    __tablename__ = "discrepancies"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    field: Mapped[str] = mapped_column(String(64))
    frozen_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    corrected_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    raised_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    raised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Unblinding(Base):
    """An emergency unblinding of one patient, one approved on request (``on-request``), or the planned
    unblinding of a whole trial (patient_id null)."""

    __tablename__ = "unblindings"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.id"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), default=None)
    kind: Mapped[str] = mapped_column(String(16))  # emergency | on-request | planned
    reason: Mapped[str] = mapped_column(Text)
    unblinded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    unblinded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class UnblindingRequest(Base):
    """A request to unblind one patient outside an emergency (a SUSAR report, say), and its review (UNB-2).

    status: requested -> approved | rejected (by the reviewer) | withdrawn (by the requester).
    """

    __tablename__ = "unblinding_requests"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    decision_reason: Mapped[str | None] = mapped_column(Text, default=None)


class Notification(Base):
    """A notice for the unblinded roles (sponsor, pharmacovigilance), e.g. after an emergency unblinding."""

    __tablename__ = "notifications"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), default=None)
    message: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AdaptiveTable(Base):
    """A response-adaptive probability table published by the unblinded statistician (RND-13)."""

    __tablename__ = "adaptive_tables"
    __audited__ = True
    __audit_secret__ = frozenset({"probabilities"})
    __table_args__ = (UniqueConstraint("trial_id", "version", name="uq_adaptive_tables_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    probabilities: Mapped[dict[str, float]] = mapped_column(JSON)
    published_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # From when it allocates (None: from its publication); a table can be published ahead of its time.
    effective_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class AuditEntry(Base):
    """One entry of the append-only, hash-chained audit trail (21 CFR 11.10(e); ICH E6(R3) §4.2.2)."""

    __tablename__ = "audit_log"
    # one record's (and so one patient's) entries without walking the trial's: GET /api/audit?patient_id= (0022)
    __table_args__ = (Index("ix_audit_log_table_record", "table_name", "record_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32))  # ISO 8601 UTC text, hashed exactly as stored
    actor_id: Mapped[int | None] = mapped_column(Integer, default=None)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    table_name: Mapped[str | None] = mapped_column(String(64), default=None)
    record_id: Mapped[str | None] = mapped_column(String(64), default=None)
    trial_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    old_values: Mapped[JsonDict | None] = mapped_column(JSON, default=None)
    new_values: Mapped[JsonDict | None] = mapped_column(JSON, default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    source: Mapped[str | None] = mapped_column(String(200), default=None)
    protocol_version: Mapped[str | None] = mapped_column(String(32), default=None)
    # The actor's printed name and the Equipoise version that wrote the entry (AUD-1); entries written before
    # these columns existed have neither, and their hashes cover neither (``audit.hashed_fields``).
    actor_name: Mapped[str | None] = mapped_column(String(200), default=None)
    app_version: Mapped[str | None] = mapped_column(String(32), default=None)
    # The site whose record or event the entry is (AUD-1): a patient's site for every row that belongs to a patient,
    # a site-scoped role's site, none for trial- and system-wide entries; site-scoped readers see their sites'
    # entries only. Entries written before this column have none, and their hashes do not cover it.
    site_id: Mapped[str | None] = mapped_column(String(64), default=None)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # The HMAC-SHA256 of ``hash`` under the server's audit key, and that key's id (``equipoise.store.audit_keys``):
    # a database writer without the key cannot forge it. Entries written before the key (migration 0021) have
    # neither; the first keyed entry seals them, as it carries their last hash.
    key_id: Mapped[str | None] = mapped_column(String(32), default=None)
    mac: Mapped[str | None] = mapped_column(String(64), default=None)


class AuditHead(Base):
    """The chain's head (last id and hash): appending locks this one row, so the chain never forks."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
    # The HMAC of (last_id, last_hash) under the audit key: moving the head back over removed entries needs a new one.
    key_id: Mapped[str | None] = mapped_column(String(32), default=None)
    mac: Mapped[str | None] = mapped_column(String(64), default=None)


GENESIS_HASH = "0" * 64

