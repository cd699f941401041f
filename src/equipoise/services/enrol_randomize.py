"""Enrol and randomize in one request and one transaction, as RECOVERY's web randomization did.

The two-step path (``POST /patients`` then ``POST /patients/{id}/randomize``) stays for sites that enrol first
and randomize later. This path serves the common case where the coordinator randomizes as soon as the patient
is found eligible: a connection lost between two requests can no longer leave a patient enrolled but not
randomized, and the server does one authentication, one write transaction and one audit append instead of two.

What is written, and audited, is exactly what the two steps write: the patient's insert (reason "enrolment"),
then the allocation state, the allocation and the patient's status (reason "randomization"), so replay and
``audit verify`` need nothing new. One idempotency key covers both: the retry of a request that was answered,
or that failed after its commit, returns the same patient and allocation; a retry after a failure before the
commit randomizes then (nothing was written).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.exc import IntegrityError

from equipoise.errors import ConflictError, InvalidError
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.services.patients import PatientService, PatientView, same_request
from equipoise.services.randomization import AllocationView, RandomizationService
from equipoise.store.audit import set_context
from equipoise.store.db import Database


@dataclass(frozen=True)
class EnrolledAndRandomized:
    patient: PatientView
    allocation: AllocationView

    @property
    def replayed(self) -> bool:
        return self.allocation.replayed

    def to_dict(self) -> dict[str, object]:
        return {"patient": self.patient.to_dict(), "allocation": self.allocation.to_dict(),
                "replayed": self.replayed}


class EnrolAndRandomizeService:
    def __init__(self, db: Database, patients: PatientService, randomization: RandomizationService) -> None:
        self.db = db
        self.patients = patients
        self.randomization = randomization

    def run(self, principal: Principal, trial_id: str, site_id: str, raw_values: Mapping[str, Any],
            idempotency_key: str) -> EnrolledAndRandomized:
        if not idempotency_key or len(idempotency_key) > 100:
            raise InvalidError("an idempotency key (1-100 characters) is required, so that a retry cannot "
                               "enrol or randomize twice")
        # Both rights up front: a role that may enrol but not randomize must not leave an enrolled patient.
        principal.require(Action.RANDOMIZE, trial_id, site_id)
        now = self.patients.clock()
        admitted = self.patients.admit(principal, trial_id, site_id, raw_values, idempotency_key, now)
        if isinstance(admitted, PatientView):
            return self._complete(principal, trial_id, admitted, idempotency_key)
        try:
            with self.db.write(principal.audit_context(reason="enrolment",
                                                       protocol_version=admitted.protocol_version)) as s:
                patient = admitted.insert(s)
                # The randomization's entries carry the context the two-step randomize gives them.
                set_context(s, principal.audit_context(reason="randomization"))
                allocation = self.randomization.randomize_in(s, principal, trial_id, patient.id, idempotency_key,
                                                             now, eligibility_checked=True)
        except IntegrityError:
            # A concurrent request with the same key enrolled first: answer as its retry would be answered.
            existing = self.patients.by_key(trial_id, idempotency_key)
            if existing is None:
                raise ConflictError("this idempotency key was used at the same moment by another request for "
                                    "another patient") from None
            return self._complete(principal, trial_id,
                                  same_request(existing, site_id, admitted.row["enrolment_values"]), idempotency_key)
        return EnrolledAndRandomized(_randomized(patient), allocation)

    def _complete(self, principal: Principal, trial_id: str, patient: PatientView,
                  key: str) -> EnrolledAndRandomized:
        """A retry: the patient enrolled under this key, and its allocation under the same key."""
        allocation = self.randomization.randomize(principal, trial_id, patient.id, key)
        return EnrolledAndRandomized(_randomized(patient), allocation)


def _randomized(patient: PatientView) -> PatientView:
    return replace(patient, status="randomized")
