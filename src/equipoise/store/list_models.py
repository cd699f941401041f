"""Tables around allocations: uploaded randomization lists (RND-8), the list (audited) and its entries;
emergency envelopes for downtime (RND-12, audited); and flags on allocations made in error (RND-10, audited).

The entries are written once, with the list, and never changed. They are not audited one by one (a list holds
thousands); instead the list's audited row carries the SHA-256 of its entries in a canonical form, and
``equipoise audit verify`` recomputes it, so an entry changed in the database is found like any other
tampering.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from equipoise.store.base import Base
from equipoise.store.types import UTCDateTime, utcnow


class RandomizationList(Base):
    """One upload of a trial's list. The active one allocates; a replacement must agree with it on every entry
    already used (RND-9: a list is extended, never rewritten)."""

    __tablename__ = "randomization_lists"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(200))
    file_sha256: Mapped[str] = mapped_column(String(64))  # of the uploaded file, as the statistician gave it
    entries_sha256: Mapped[str] = mapped_column(String(64))  # of the entries, canonical (``list_digest``)
    entries: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text)
    # RND-8: "test" (a test trial's) or "production"; lists from before migration 0018 were production lists.
    purpose: Mapped[str] = mapped_column(String(16), default="production", server_default="production",
                                         info={"audit_default": "production"})


class RandomizationListEntry(Base):
    __tablename__ = "randomization_list_entries"
    __table_args__ = (UniqueConstraint("list_id", "stratum", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("randomization_lists.id"))
    stratum: Mapped[str] = mapped_column(String(400))
    position: Mapped[int] = mapped_column(Integer)  # from 1 within the stratum, in upload order
    arm: Mapped[str] = mapped_column(String(64))


class EmergencyEnvelope(Base):
    """One pre-drawn allocation a site opens when the server cannot be reached (RND-12; Sealed Envelope's
    downtime procedure), back-entered with the time it was opened and why once the server is back."""

    __tablename__ = "emergency_envelopes"
    __table_args__ = (UniqueConstraint("trial_id", "site_id", "number"), UniqueConstraint("patient_id"))
    __audited__ = True
    __audit_secret__: ClassVar[frozenset[str]] = frozenset({"arm"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.id"), index=True)
    site_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)  # from 1 within the site, printed on the envelope
    arm: Mapped[str] = mapped_column(String(64))
    kit_code: Mapped[str | None] = mapped_column(String(64), default=None)
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), default=None)
    opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    entered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)


class AllocationFlag(Base):
    """A correction recorded against an allocation that stands (RND-10): the allocation is never changed or
    deleted (intention to treat keeps the patient in the arm allocated); the flag says what went wrong and why.
    Withdrawing a flag (it was raised in error) keeps it, with who withdrew it, when and why."""

    __tablename__ = "allocation_flags"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"))
    kind: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    flagged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    flagged_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    withdraw_reason: Mapped[str | None] = mapped_column(Text, default=None)
