"""Further randomizations (RND-6): a randomized patient is randomized again in a factorial part or a later
re-randomization (see ``equipoise.protocol.further_randomization``).

One write transaction, like the main randomization: the patient row is locked, then the part's state row; the
part's eligibility is evaluated on the enrolment values as they stand and the part's values, on the site's
date; the allocation stores its request, parameters, draws and state, so ``equipoise allocation replay``
recomputes it. A patient is randomized at most once in each part, only after the main randomization and
never once off study; a retry with the same idempotency key returns the allocation already made (RND-2).
An open-label part's arm is seen by whoever may read the patient; a blinded part's allocation gets a kit code,
and its arm is seen only by the roles that see the main arm (until the trial's planned unblinding).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from equipoise.errors import ConflictError, IdempotencyKeyReusedError, InvalidError, NotFoundError
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.protocol import Protocol, evaluate_eligibility
from equipoise.protocol.amending import with_every_field
from equipoise.protocol.further_randomization import FurtherRandomization
from equipoise.services import allocator
from equipoise.services.crf_access import off_study_row, patient_for
from equipoise.services.patients import IneligibleError
from equipoise.services.randomization import RandomizationService, new_kit_code
from equipoise.services.site_clock import Clock, local_date
from equipoise.services.trials import get_trial, in_force, protocol_of, refuse_if_database_locked
from equipoise.services.values import json_values, typed_values
from equipoise.store.core_rows import update_row
from equipoise.store.db import Database
from equipoise.store.models import Allocation, AllocationState, Patient, Trial, patient_code
from equipoise.store.part_models import PartAllocation, part_state_key
from equipoise.store.types import iso, utcnow


@dataclass(frozen=True)
class PartAllocationView:
    allocation_id: int
    patient_id: int
    patient_code: str
    site_id: str
    part_id: str
    part_name: str
    kit_code: str | None  # a blinded part's kit
    arm: str | None  # None: the part is blinded to this role
    arm_name: str | None
    randomized_on: str
    randomized_at: str
    protocol_version: str
    factors: dict[str, str]
    values: dict[str, Any]
    replayed: bool = False

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def part_view(row: PartAllocation, site_id: str, protocol: Protocol, shows_arm: bool,
              replayed: bool = False) -> PartAllocationView:
    part = protocol.further_randomization(row.part_id)
    arm = part.arm(row.arm) if part is not None else None
    return PartAllocationView(row.id, row.patient_id, patient_code(row.patient_id), site_id, row.part_id,
                              part.name if part is not None else row.part_id, row.kit_code,
                              row.arm if shows_arm else None,
                              (arm.name if arm is not None else row.arm) if shows_arm else None,
                              row.allocation_date.isoformat(), iso(row.allocated_at), row.protocol_version,
                              dict(row.factors), dict(row.part_values), replayed)


def _kit_code(part: FurtherRandomization, arm_id: str) -> str | None:
    """A blinded part's kit code: the arms share its prefix (a protocol check), so it reveals nothing."""
    if not part.blinding.is_blinded:
        return None
    arm = part.arm(arm_id)
    return new_kit_code(arm.kit_prefix if arm is not None else None)


def shows_part_arm(principal: Principal, trial: Trial, protocol: Protocol, part_id: str) -> bool:
    """Whether this principal sees the arms of a part: always in an open-label part, else as the main arm."""
    part = protocol.further_randomization(part_id)
    blinded = part is not None and part.blinding.is_blinded
    return not blinded or principal.sees_arms(trial.id, True, trial.unblinded_at)


def _values_differ(protocol: Protocol, part_id: str, enrolment: Mapping[str, Any], raw_values: Mapping[str, Any],
                   stored: Mapping[str, Any]) -> list[str]:
    """The part's fields a retried request gives otherwise than the request that randomized (all of them when
    they cannot be read)."""
    part = protocol.further_randomization(part_id)
    if part is None:
        return []
    own = {f.id for f in part.fields}
    try:
        typed = typed_values(protocol.part_protocol(part), {**enrolment, **raw_values},
                             stored=set(enrolment) - set(raw_values))
    except InvalidError:
        return sorted(set(raw_values) | set(stored)) or ["values"]
    sent = json_values({k: v for k, v in typed.items() if k in own})
    return sorted(k for k in set(sent) | set(stored) if sent.get(k) != stored.get(k))


def find_part(protocol: Protocol, part_id: str) -> FurtherRandomization:
    part = protocol.further_randomization(part_id)
    if part is None:
        parts = ", ".join(r.id for r in protocol.further_randomizations) or "none"
        raise NotFoundError(f"trial {protocol.trial.id} has no further randomization {part_id!r} (parts: {parts})")
    return part


class FurtherRandomizationService:
    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self.db = db
        self.clock = clock

    def randomize(self, principal: Principal, trial_id: str, patient_id: int, part_id: str,
                  raw_values: Mapping[str, Any], idempotency_key: str | None) -> PartAllocationView:
        if not idempotency_key or len(idempotency_key) > 100:
            raise InvalidError("an idempotency key (1-100 characters) is required, so that a retry cannot "
                               "randomize twice")
        try:
            with self.db.write(principal.audit_context(reason=f"further randomization {part_id}")) as s:
                return self._randomize(s, principal, trial_id, patient_id, part_id, raw_values, idempotency_key)
        except IntegrityError:
            # A concurrent request with the same key won the race: answer with its allocation, as a retry would.
            with self.db.read() as s:
                row = s.scalar(select(PartAllocation).where(PartAllocation.trial_id == trial_id,
                                                            PartAllocation.idempotency_key == idempotency_key))
                if row is None or row.patient_id != patient_id or row.part_id != part_id:
                    raise ConflictError(f"patient {patient_code(patient_id)} was randomized in {part_id} "
                                        "concurrently by another request") from None
                patient = s.get(Patient, patient_id)
                assert patient is not None
                trial = get_trial(s, trial_id)
                protocol = in_force(trial, row.allocation_date)
                return part_view(row, patient.site_id, protocol, shows_part_arm(principal, trial, protocol, part_id),
                                 replayed=True)

    def _randomize(self, s: Session, principal: Principal, trial_id: str, patient_id: int, part_id: str,
                   raw_values: Mapping[str, Any], key: str) -> PartAllocationView:
        now = self.clock()
        patient = patient_for(s, principal, trial_id, patient_id, Action.RANDOMIZE, lock=True)
        trial = get_trial(s, trial_id)
        date = local_date(in_force(trial, now.date()), patient.site_id, now)
        protocol = in_force(trial, date)
        earlier = s.scalars(select(PartAllocation).where(
            PartAllocation.trial_id == trial_id,
            (PartAllocation.idempotency_key == key)
            | ((PartAllocation.patient_id == patient.id) & (PartAllocation.part_id == part_id)))).all()
        by_key = next((a for a in earlier if a.idempotency_key == key), None)
        if by_key is not None:
            differ = [name for name, (old, new) in {"patient_id": (by_key.patient_id, patient.id),
                                                    "part_id": (by_key.part_id, part_id)}.items() if old != new]
            differ = differ or _values_differ(protocol, part_id, patient.enrolment_values, raw_values,
                                              by_key.part_values)
            if differ:
                raise IdempotencyKeyReusedError(differ, "another randomization")
            return part_view(by_key, patient.site_id, protocol,
                             shows_part_arm(principal, trial, protocol, part_id), replayed=True)
        refuse_if_database_locked(trial_id, trial.status)  # after the retry: a retry changes nothing
        if earlier:
            shown = f"arm {earlier[0].arm}" if shows_part_arm(principal, trial, protocol, part_id) else \
                f"kit {earlier[0].kit_code}"
            raise ConflictError(f"patient {patient.code} is already randomized in {part_id} (allocation "
                                f"{earlier[0].id}, {shown}): a patient is randomized once in each part")
        if protocol.further_randomization(part_id) is None and \
                with_every_field(protocol_of(trial)).further_randomization(part_id) is not None:
            raise ConflictError(f"{part_id} randomizes no more patients from protocol version "
                                f"{protocol.trial.version} (closed or not yet opened by an amendment at this date)")
        part = find_part(protocol, part_id)
        if s.scalar(select(Allocation.id).where(Allocation.patient_id == patient.id)) is None:
            raise ConflictError(f"patient {patient.code} is not randomized yet: {part_id} randomizes patients "
                                "after the main randomization")
        left = off_study_row(s, patient.id)
        if left is not None:
            raise ConflictError(f"patient {patient.code} is off study ({left.kind} from "
                                f"{left.effective_date.isoformat()}): no further randomization")
        view = protocol.part_protocol(part)
        own = {f.id for f in part.fields}
        unknown = sorted(set(raw_values) - own)
        if unknown:
            raise InvalidError(f"{', '.join(unknown)}: not a field of {part_id} (its fields: "
                               f"{', '.join(sorted(own)) or 'none'})",
                               {"errors": dict.fromkeys(unknown, f"not a field of {part_id}")})
        values = typed_values(view, {**patient.enrolment_values, **raw_values},
                              stored=set(patient.enrolment_values) - set(raw_values))
        eligibility = evaluate_eligibility(part.eligibility, values, date)
        if not eligibility.eligible:
            reasons = [c.reason for c in (*eligibility.failed, *eligibility.missing)]
            raise IneligibleError(f"patient {patient.code} is not eligible for {part_id}: " + "; ".join(reasons),
                                  {"eligible": False, "failed": [c.to_dict() for c in eligibility.failed],
                                   "missing": [c.to_dict() for c in eligibility.missing]})
        try:
            prepared = allocator.prepare(view, patient.site_id, values)
            state_key = part_state_key(part_id, prepared.state_key)
            state_row = RandomizationService.lock_state(s, trial_id, state_key, prepared.scheme.initial_state())
            allocation, draws = allocator.allocate_recorded(prepared, state_row["state"])
        except allocator.AllocationError as exc:
            raise InvalidError(f"cannot randomize patient {patient.code} in {part_id}: {exc}") from None
        sequence = state_row["count"] + 1
        update_row(s, AllocationState, state_row, {"count": sequence, "state": allocation.state})
        row = PartAllocation(
            trial_id=trial_id, patient_id=patient.id, part_id=part_id, state_id=state_row["id"], sequence=sequence,
            stratum=prepared.request.stratum, factors=dict(prepared.request.factors),
            part_values=json_values({k: v for k, v in values.items() if k in own}), arm=allocation.arm,
            kit_code=_kit_code(part, allocation.arm),
            protocol_version=protocol.trial.version, allocation_date=date, method=prepared.scheme.method,
            parameters=prepared.scheme.parameters(), request=prepared.request.to_dict(), draws=draws,
            diagnostics=allocation.diagnostics, state_after=allocation.state, idempotency_key=key,
            allocated_by=principal.user_id, allocated_at=now)
        s.add(row)
        s.flush()
        return part_view(row, patient.site_id, protocol, shows_part_arm(principal, trial, protocol, part_id))

    def for_patient(self, principal: Principal, trial_id: str, patient_id: int) -> list[PartAllocationView]:
        """The patient's further randomizations, in the order they were made."""
        with self.db.read() as s:
            patient = patient_for(s, principal, trial_id, patient_id, Action.VIEW_PATIENTS)
            trial = get_trial(s, trial_id)
            rows = s.scalars(select(PartAllocation).where(PartAllocation.patient_id == patient.id)
                             .order_by(PartAllocation.id)).all()
            views = []
            for r in rows:
                protocol = in_force(trial, r.allocation_date)
                views.append(part_view(r, patient.site_id, protocol, shows_part_arm(principal, trial, protocol,
                                                                                    r.part_id)))
            return views

    def list_part(self, principal: Principal, trial_id: str, part_id: str, *, after_id: int = 0,
                  limit: int | None = None) -> list[PartAllocationView]:
        """Every allocation of one part, for the sites the principal sees, in id order; ``after_id`` and ``limit``
        page them (keyset: the last id seen)."""
        principal.require(Action.VIEW_PATIENTS, trial_id)
        sites = principal.site_filter(Action.VIEW_PATIENTS, trial_id)
        with self.db.read() as s:
            trial = get_trial(s, trial_id)
            find_part(with_every_field(protocol_of(trial)), part_id)  # a closed part's allocations stay listed
            query = (select(PartAllocation, Patient.site_id).join(Patient, Patient.id == PartAllocation.patient_id)
                     .where(PartAllocation.trial_id == trial_id, PartAllocation.part_id == part_id,
                            PartAllocation.id > after_id)
                     .order_by(PartAllocation.id).limit(limit))
            if sites is not None:
                query = query.where(Patient.site_id.in_(sorted(sites)))
            views = []
            for r, site in s.execute(query).all():
                protocol = in_force(trial, r.allocation_date)
                views.append(part_view(r, site, protocol, shows_part_arm(principal, trial, protocol, part_id)))
            return views


__all__ = ["FurtherRandomizationService", "PartAllocationView", "find_part", "part_view", "shows_part_arm"]
