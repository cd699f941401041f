"""Emergency and planned unblinding, notifications, and response-adaptive probability tables.

UNB-1 (ICH E6(R3) §3; EMA/CTFG): an investigator unblinds one patient at a time, at once, without sponsor
approval, after giving a reason and re-entering the password; the event is audited and a notification is
recorded for the unblinded roles (sponsor, pharmacovigilance). Planned unblinding of the whole trial is for
the unblinded statistician only. RND-13: adaptive probability tables are published by the unblinded
statistician, versioned, audited, with re-authentication, and hidden from every other role.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from equipoise.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError
from equipoise.identity.auth import AuthService
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.protocol.amending import with_every_field
from equipoise.services.free_text import clean_text
from equipoise.services.site_clock import Clock
from equipoise.services.trials import get_trial, in_force, protocol_of
from equipoise.store.db import Database
from equipoise.store.models import (
    AdaptiveTable,
    Allocation,
    Notification,
    Patient,
    Trial,
    Unblinding,
    patient_code,
)
from equipoise.store.part_models import PartAllocation
from equipoise.store.types import iso, utcnow


def _reason(reason: str | None) -> str:
    return clean_text(reason, "a reason")


class UnblindingService:
    def __init__(self, db: Database, auth: AuthService, clock: Clock = utcnow) -> None:
        self.db = db
        self.auth = auth
        self.clock = clock

    def emergency(self, principal: Principal, trial_id: str, patient_id: int, reason: str | None,
                  password: str | None) -> dict[str, Any]:
        why = _reason(reason)
        if not principal.system and not principal.grants_for(Action.EMERGENCY_UNBLIND, trial_id):
            raise ForbiddenError("your role does not allow emergency-unblind")
        with self.db.read() as s:
            trial = get_trial(s, trial_id)
            patient = s.get(Patient, patient_id)
            sites = principal.site_filter(Action.VIEW_PATIENTS, trial_id)
            if patient is None or patient.trial_id != trial_id or (sites is not None and patient.site_id not in sites):
                raise NotFoundError(f"no patient {patient_id} in trial {trial_id}")
            principal.require(Action.EMERGENCY_UNBLIND, trial_id, patient.site_id)
            if not trial.blinded:
                raise ConflictError(f"trial {trial_id} is open-label: the arm is not concealed")
        self.auth.reauthenticate(principal, password)
        now = self.clock()
        with self.db.write(principal.audit_context(reason=why)) as s:
            allocation = s.scalar(select(Allocation).where(Allocation.patient_id == patient_id))
            if allocation is None:
                raise ConflictError(f"patient {patient_code(patient_id)} is not randomized: nothing to unblind")
            s.add(Unblinding(trial_id=trial_id, patient_id=patient_id, kind="emergency", reason=why,
                             unblinded_by=principal.user_id, unblinded_at=now))
            parts = _blinded_parts(s, trial, patient_id)
            kits = "".join(f", {p['part_id']} kit {p['kit_code']}" for p in parts)
            message = (f"Emergency unblinding of patient {patient_code(patient_id)} (site {patient.site_id}, kit "
                       f"{allocation.kit_code}{kits}) by {principal.username} at {iso(now)}. Reason: {why}")
            s.add(Notification(trial_id=trial_id, kind="emergency-unblinding", patient_id=patient_id,
                               message=message, created_by=principal.user_id, created_at=now))
            arm = in_force(trial, allocation.allocation_date).arm(allocation.arm)
            return {"patient_id": patient_id, "patient_code": patient_code(patient_id),
                    "kit_code": allocation.kit_code, "arm": allocation.arm, "arm_name": arm.name if arm else None,
                    "further_randomizations": parts, "unblinded_at": iso(now), "reason": why, "notified": True}

    def planned(self, principal: Principal, trial_id: str, reason: str | None, password: str | None) -> dict[str, Any]:
        why = _reason(reason)
        principal.require(Action.PLANNED_UNBLIND, trial_id)
        self.auth.reauthenticate(principal, password)
        now = self.clock()
        with self.db.write(principal.audit_context(reason=why)) as s:
            trial = get_trial(s, trial_id)
            if not trial.blinded:
                raise ConflictError(f"trial {trial_id} is open-label")
            if trial.unblinded_at is not None:
                raise ConflictError(f"trial {trial_id} was already unblinded at {iso(trial.unblinded_at)}")
            trial.unblinded_at = now
            s.add(Unblinding(trial_id=trial_id, patient_id=None, kind="planned", reason=why,
                             unblinded_by=principal.user_id, unblinded_at=now))
            s.add(Notification(trial_id=trial_id, kind="planned-unblinding", message=f"Trial {trial_id} unblinded "
                               f"by {principal.username} at {iso(now)}. Reason: {why}", created_by=principal.user_id,
                               created_at=now))
            return {"trial_id": trial_id, "unblinded_at": iso(now), "reason": why}

    def notifications(self, principal: Principal, trial_id: str, *, after_id: int = 0,
                      limit: int | None = None) -> list[dict[str, Any]]:
        """The trial's notifications in id order; ``after_id`` and ``limit`` page them (the last id seen)."""
        principal.require(Action.VIEW_NOTIFICATIONS, trial_id)
        with self.db.read() as s:
            get_trial(s, trial_id)
            rows = s.scalars(select(Notification).where(Notification.trial_id == trial_id, Notification.id > after_id)
                             .order_by(Notification.id).limit(limit))
            return [{"id": n.id, "kind": n.kind, "patient_id": n.patient_id, "message": n.message,
                     "created_at": iso(n.created_at)} for n in rows]

    def publish_table(self, principal: Principal, trial_id: str, probabilities: Mapping[str, float],
                      reason: str | None, password: str | None,
                      effective_at: dt.datetime | None = None) -> dict[str, Any]:
        """Publish the next version of the table; it allocates from ``effective_at`` (default: now), which may be
        later (a table agreed at an interim meeting, to start on a given day) but never earlier."""
        why = _reason(reason)
        now = self.clock()
        if effective_at is not None:
            if effective_at.tzinfo is None:
                raise InvalidError("effective_at needs a time zone (e.g. 2026-03-01T00:00:00+00:00)")
            if effective_at < now:
                raise InvalidError(f"effective_at {iso(effective_at)} is in the past: a table never applies to "
                                   "allocations already made")
        principal.require(Action.PUBLISH_ADAPTIVE, trial_id)
        with self.db.read() as s:
            trial = get_trial(s, trial_id)
        protocol = in_force(trial, self.clock().date())
        randomization = protocol.randomization
        if randomization is None or randomization.method != "response-adaptive":
            raise ConflictError(f"trial {trial_id} does not use response-adaptive randomization")
        arms = {a.id for a in protocol.arms}
        unknown = sorted(set(probabilities) - arms)
        if unknown:
            raise InvalidError(f"not an arm in force: {', '.join(unknown)} (arms: {', '.join(sorted(arms))})")
        if set(probabilities) != arms:
            raise InvalidError(f"give a probability for every arm in force: {', '.join(sorted(arms))}")
        values = list(probabilities.values())
        if any(not isinstance(p, int | float) or not math.isfinite(p) or p < 0 for p in values):
            raise InvalidError("probabilities must be numbers >= 0")
        if abs(sum(values) - 1) > 1e-9:
            raise InvalidError(f"probabilities must add up to 1 (they add up to {sum(values):.6g})")
        floor = randomization.adaptive.floor if randomization.adaptive else 0.0
        low = [a for a, p in probabilities.items() if p < floor]
        if low:
            raise InvalidError(f"below the protocol's floor of {floor}: {', '.join(low)}")
        self.auth.reauthenticate(principal, password)
        with self.db.write(principal.audit_context(reason=why, protocol_version=protocol.trial.version)) as s:
            latest = s.scalar(select(func.max(AdaptiveTable.version)).where(AdaptiveTable.trial_id == trial_id))
            table = AdaptiveTable(trial_id=trial_id, version=(latest or 0) + 1,
                                  probabilities={k: float(v) for k, v in probabilities.items()},
                                  published_by=principal.user_id, published_at=now, effective_at=effective_at)
            s.add(table)
            s.flush()
            return _table_view(table)

    def tables(self, principal: Principal, trial_id: str) -> list[dict[str, Any]]:
        principal.require(Action.VIEW_ADAPTIVE, trial_id)
        with self.db.read() as s:
            get_trial(s, trial_id)
            rows = s.scalars(select(AdaptiveTable).where(AdaptiveTable.trial_id == trial_id)
                             .order_by(AdaptiveTable.version))
            return [_table_view(t) for t in rows]

    def aggregates(self, principal: Principal, trial_id: str) -> dict[str, Any]:
        """Allocations by arm, by site and by the set of arms each patient could be randomized to: the DMC's
        unblinded aggregate view.

        RND-5 (RECOVERY: "randomisation will be between fewer arms"): a comparison of two arms is fair only among
        the patients who could have been randomized to both, so the allocations are also counted by eligible
        arm set (CONSORT 2010 extension for multi-arm trials, Juszczak et al. 2019, *JAMA* 321:1610, item 13a).
        Each further randomization (RND-6) is counted by its arm, by site and crossed with the main arm: the
        factorial table whose margins the comparisons use and whose cells show an interaction (CONSORT 2010
        extension for factorial trials, Kahan et al. 2023, *JAMA* 330:2106, item 13a).
        """
        principal.require(Action.VIEW_AGGREGATES, trial_id)
        with self.db.read() as s:
            trial = get_trial(s, trial_id)
            rows = s.execute(select(Allocation.arm, Patient.site_id, Allocation.request)
                             .join(Patient, Patient.id == Allocation.patient_id)
                             .where(Allocation.trial_id == trial_id)).all()
            part_rows = s.execute(select(PartAllocation.part_id, PartAllocation.arm, Patient.site_id, Allocation.arm)
                                  .join(Patient, Patient.id == PartAllocation.patient_id)
                                  .join(Allocation, Allocation.patient_id == PartAllocation.patient_id)
                                  .where(PartAllocation.trial_id == trial_id)).all()
        by_arm: dict[str, int] = {}
        by_site: dict[str, dict[str, int]] = {}
        by_arm_set: dict[str, dict[str, int]] = {}
        for arm, site, request in rows:
            by_arm[arm] = by_arm.get(arm, 0) + 1
            by_site.setdefault(site, {})[arm] = by_site.get(site, {}).get(arm, 0) + 1
            open_arms = "+".join(a["id"] for a in (request or {}).get("arms", [])) or "(not recorded)"
            by_arm_set.setdefault(open_arms, {})[arm] = by_arm_set.get(open_arms, {}).get(arm, 0) + 1
        parts: dict[str, dict[str, Any]] = {
            part.id: {"arms": [a.id for a in part.arms], "total": 0, "by_arm": {}, "by_site": {}, "by_main_arm": {}}
            for part in with_every_field(protocol_of(trial)).further_randomizations}
        for part_id, arm, site, main_arm in part_rows:
            counts = parts.setdefault(part_id, {"arms": [], "total": 0, "by_arm": {}, "by_site": {}, "by_main_arm": {}})
            counts["total"] += 1
            counts["by_arm"][arm] = counts["by_arm"].get(arm, 0) + 1
            counts["by_site"].setdefault(site, {})[arm] = counts["by_site"].get(site, {}).get(arm, 0) + 1
            cross = counts["by_main_arm"].setdefault(main_arm, {})
            cross[arm] = cross.get(arm, 0) + 1
        return {"trial_id": trial_id, "total": sum(by_arm.values()), "by_arm": by_arm, "by_site": by_site,
                "by_arm_set": by_arm_set, "arms": [a.id for a in protocol_of(trial).arms],
                "further_randomizations": parts}


def _blinded_parts(s: Session, trial: Trial, patient_id: int) -> list[dict[str, Any]]:
    """The patient's allocations in blinded further randomizations: an emergency unblinding reveals every
    treatment the patient may have received (RND-6, UNB-1)."""
    out = []
    for row in s.scalars(select(PartAllocation).where(PartAllocation.patient_id == patient_id)
                         .order_by(PartAllocation.id)):
        part = in_force(trial, row.allocation_date).further_randomization(row.part_id)
        if part is None or not part.blinding.is_blinded:
            continue
        arm = part.arm(row.arm)
        out.append({"part_id": row.part_id, "kit_code": row.kit_code, "arm": row.arm,
                    "arm_name": arm.name if arm else None})
    return out


def _table_view(table: AdaptiveTable) -> dict[str, Any]:
    effective = table.effective_at or table.published_at
    return {"version": table.version, "probabilities": table.probabilities, "published_at": iso(table.published_at),
            "effective_at": iso(effective)}


def table_in_force(s: Session, trial_id: str, now: dt.datetime) -> AdaptiveTable | None:
    """The highest version whose time has come (published and, if dated ahead, effective)."""
    return s.scalar(select(AdaptiveTable).where(
        AdaptiveTable.trial_id == trial_id,
        or_(AdaptiveTable.effective_at.is_(None), AdaptiveTable.effective_at <= now))
        .order_by(AdaptiveTable.version.desc()).limit(1))
