"""Tables of the case report forms: form records, monitor queries, patient locks, electronic signatures and
patients who left the study early (off study).

All five are audited (``__audited__``): every insert and update is an entry of the hash-chained trail in the
same transaction, and ``equipoise audit verify`` replays them like every other audited table. They are
imported at the end of ``equipoise.store.models`` so that the audit mechanism always knows them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from equipoise.store.base import Base
from equipoise.store.types import UTCDateTime, utcnow

JsonDict = dict[str, Any]

# Entries written before a column existed carry no value for it: ``audit verify`` reads the column's
# ``audit_default`` there, the value its migration gave the existing rows.
FIRST_INSTANCE = {"audit_default": 1}


class FormRecord(Base):
    """One case report form of one patient at one visit: its values, status, version and lock.

    ``instance`` numbers the records of a repeating (log) form at one visit, 1, 2, ...; it is 1 for every other
    form. ``field_values`` holds field id -> JSON value (dates as YYYY-MM-DD). ``version`` counts saves: 1 at the first
    save, +1 at every change (each later change needs a reason, ICH E6(R3) §4.2.2, AUD-4).
    """

    __tablename__ = "form_records"
    __audited__ = True
    __table_args__ = (UniqueConstraint("patient_id", "form_id", "visit_id", "instance",
                                       name="uq_form_records_patient_form_visit_instance"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    form_id: Mapped[str] = mapped_column(String(64))
    visit_id: Mapped[str] = mapped_column(String(64))
    instance: Mapped[int] = mapped_column(Integer, default=1, server_default="1", info=FIRST_INSTANCE)
    field_values: Mapped[JsonDict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # complete | incomplete | not-done
    not_done_reason: Mapped[str | None] = mapped_column(Text, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    protocol_version: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    locked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class FormQuery(Base):
    """A monitor's query on a form (or one field of it): open -> answered -> closed, with its messages."""

    __tablename__ = "form_queries"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    form_id: Mapped[str] = mapped_column(String(64))
    visit_id: Mapped[str] = mapped_column(String(64))
    instance: Mapped[int] = mapped_column(Integer, default=1, server_default="1", info=FIRST_INSTANCE)
    field_id: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | answered | closed
    messages: Mapped[list[JsonDict]] = mapped_column(JSON)  # [{kind, by, name, at, text}]
    raised_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    raised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PatientLock(Base):
    """Whether a patient's whole casebook is locked (one row per patient, kept when unlocked)."""

    __tablename__ = "patient_locks"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), unique=True)
    locked: Mapped[bool] = mapped_column(default=True)
    locked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    locked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class Signature(Base):
    """An electronic signature (21 CFR 11.50, 11.70): who (printed name), when (UTC), meaning, and what.

    ``content_sha256`` is the hash of the signed content (the form record, or every form record of the
    patient for a casebook signature); ``binding_sha256`` binds signer, meaning, time and content, so a
    signature cannot be excised, copied or transferred to other content without it showing.
    """

    __tablename__ = "signatures"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    form_record_id: Mapped[int | None] = mapped_column(ForeignKey("form_records.id"), default=None, index=True)
    scope: Mapped[str] = mapped_column(String(16))  # form | casebook
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    username: Mapped[str] = mapped_column(String(64))
    printed_name: Mapped[str] = mapped_column(String(200))
    meaning: Mapped[str] = mapped_column(String(32))
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    content_sha256: Mapped[str] = mapped_column(String(64))
    binding_sha256: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[int | None] = mapped_column(Integer, default=None)
    status: Mapped[str] = mapped_column(String(16), default="valid")  # valid | invalidated
    invalidated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    invalidated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    invalidation_reason: Mapped[str | None] = mapped_column(Text, default=None)


class OffStudy(Base):
    """A patient who left the study before its last visit: withdrawal of consent, lost to follow-up, or the
    investigator's decision (ICH E6(R3) §2.8.10 and Annex 1 §4.2; CONSORT 2010 item 13b). One row per patient;
    cancelling it (recorded in error, the patient came back) deletes the row, which the audit trail keeps.
    ``effective_date`` is the site's local date from which no visit is expected any more.
    """

    __tablename__ = "off_study"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # withdrew-consent | lost-to-follow-up | investigator-decision | died
    effective_date: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
