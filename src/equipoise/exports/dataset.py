"""What an export holds: every record of a trial that the exporting role may see, read in one transaction.

The allocation secrets (random draws, states, algorithm parameters, requests, diagnostics, idempotency keys)
are never read into it, so no export format can leak them (RND-8, AUD-9); arms are read only when the export
shows them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from equipoise.protocol import Arm, Form, Protocol
from equipoise.protocol.amending import with_every_field
from equipoise.protocol.amendments import AddArm
from equipoise.services.allocation_flags import active_flags
from equipoise.services.signatures import SignatureView, signature_view
from equipoise.services.trials import protocol_of
from equipoise.store.crf_models import FormQuery, FormRecord, OffStudy, PatientLock, Signature
from equipoise.store.models import Allocation, AuditEntry, Patient, Trial, User
from equipoise.store.part_models import PartAllocation

MASKED = "masked"


@dataclass(frozen=True)
class AllocationRow:
    """The public part of an allocation: no draw, state, parameter or request."""

    patient_id: int
    randomized_at: dt.datetime
    allocation_date: dt.date
    protocol_version: str
    kit_code: str | None
    arm: str  # the arm id, or MASKED
    factors: dict[str, Any]
    offline: bool = False  # an emergency envelope opened while the server was down, entered afterwards (RND-12)
    flags: tuple[str, ...] = ()  # kinds of the flags that stand on it (RND-10)


@dataclass
class Dataset:
    trial: Trial
    protocol: Protocol
    current_version: str
    arms_shown: bool
    sites: list[str] | None  # None: every site
    exported_at: dt.datetime
    exported_by: str
    patients: list[Patient] = field(default_factory=list)
    allocations: dict[int, AllocationRow] = field(default_factory=dict)
    records: list[FormRecord] = field(default_factory=list)
    queries: list[FormQuery] = field(default_factory=list)
    signatures: list[tuple[Signature, SignatureView]] = field(default_factory=list)
    locked_patients: set[int] = field(default_factory=set)
    off_study: list[OffStudy] = field(default_factory=list)
    users: dict[int, User] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)  # changes of form records and enrolment values
    refusals: list[AuditEntry] = field(default_factory=list)  # enrolments refused on eligibility (screening log)
    part_allocations: list[PartAllocation] = field(default_factory=list)  # further randomizations (read arms
    # through part_arm, which masks a blinded part's)
    part_arms: dict[tuple[int, str], str] = field(default_factory=dict)  # (patient, part) -> arm, or MASKED

    @property
    def site_of(self) -> dict[int, str]:
        return {p.id: p.site_id for p in self.patients}

    def form(self, form_id: str) -> Form | None:
        return self.protocol.form(form_id)

    def part_arm(self, row: PartAllocation) -> str:
        """A further randomization's arm as this export shows it: a blinded part's is masked like the main arm."""
        part = self.protocol.further_randomization(row.part_id)
        blinded = part is not None and part.blinding.is_blinded
        return MASKED if blinded and not self.arms_shown else row.arm

    def username(self, user_id: int | None) -> str:
        if user_id is None:
            return "system"
        user = self.users.get(user_id)
        return user.username if user else f"user-{user_id}"


def every_arm(protocol: Protocol) -> list[Arm]:
    """The arms of every protocol version (those added by amendment too), first appearance first."""
    arms = {a.id: a for a in protocol.arms}
    for amendment in protocol.amendments:
        for change in amendment.changes:
            if isinstance(change, AddArm):
                arms.setdefault(change.arm.id, change.arm)
    return list(arms.values())


def collect(s: Session, trial: Trial, *, current_version: str, arms_shown: bool, sites: set[str] | None,
            exported_at: dt.datetime, exported_by: str, trail: bool = True) -> Dataset:
    """``trail``: also read the audit trail of the form records and enrolment values (the ``audit_trail``
    table, most of a trial's rows); the analyses and reports need none of it."""
    data = Dataset(trial, with_every_field(protocol_of(trial)), current_version, arms_shown,
                   sorted(sites) if sites is not None else None, exported_at, exported_by)
    query = select(Patient).where(Patient.trial_id == trial.id).order_by(Patient.id)
    if sites is not None:
        query = query.where(Patient.site_id.in_(sorted(sites)))
    data.patients = list(s.scalars(query))
    ids = {p.id for p in data.patients}
    columns = (Allocation.patient_id, Allocation.allocated_at, Allocation.allocation_date, Allocation.protocol_version,
               Allocation.kit_code, Allocation.factors, Allocation.method)
    arm_column = (Allocation.arm,) if arms_shown else ()
    flags = active_flags(s, trial.id)
    for row in s.execute(select(*columns, *arm_column).where(Allocation.trial_id == trial.id)):
        if row[0] in ids:
            arm = row[7] if arms_shown else MASKED
            data.allocations[row[0]] = AllocationRow(row[0], row[1], row[2], row[3], row[4], arm, dict(row[5]),
                                                     row[6] == "emergency-envelope", tuple(flags.get(row[0], [])))
    data.part_allocations = [a for a in s.scalars(select(PartAllocation).where(PartAllocation.trial_id == trial.id)
                                                  .order_by(PartAllocation.id)) if a.patient_id in ids]
    data.part_arms = {(a.patient_id, a.part_id): data.part_arm(a) for a in data.part_allocations}
    data.records = [r for r in s.scalars(select(FormRecord).where(FormRecord.trial_id == trial.id)
                                         .order_by(FormRecord.id)) if r.patient_id in ids]
    data.queries = [q for q in s.scalars(select(FormQuery).where(FormQuery.trial_id == trial.id)
                                         .order_by(FormQuery.id)) if q.patient_id in ids]
    records = {r.id: r for r in data.records}
    for sig in s.scalars(select(Signature).where(Signature.trial_id == trial.id).order_by(Signature.id)):
        if sig.patient_id in ids:
            record = records.get(sig.form_record_id) if sig.form_record_id is not None else None
            data.signatures.append((sig, signature_view(s, sig, record)))
    data.locked_patients = {pid for pid, locked in s.execute(
        select(PatientLock.patient_id, PatientLock.locked).where(PatientLock.trial_id == trial.id)) if locked}
    data.off_study = [o for o in s.scalars(select(OffStudy).where(OffStudy.trial_id == trial.id)
                                           .order_by(OffStudy.patient_id)) if o.patient_id in ids]
    data.users = {u.id: u for u in s.scalars(select(User))}
    if trail:
        wanted = {("form_records", str(r.id)) for r in data.records} | {("patients", str(p)) for p in ids}
        entries = s.scalars(select(AuditEntry).where(AuditEntry.trial_id == trial.id,
                                                     AuditEntry.table_name.in_(["form_records", "patients"]))
                            .order_by(AuditEntry.id))
        data.audit = [e for e in entries if (e.table_name, e.record_id) in wanted]
    refused = s.scalars(select(AuditEntry).where(AuditEntry.trial_id == trial.id,
                                                 AuditEntry.action == "enrolment.refused").order_by(AuditEntry.id))
    data.refusals = [e for e in refused
                     if sites is None or (e.new_values or {}).get("site_id") in sites]
    return data
