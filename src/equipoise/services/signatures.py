"""Electronic signatures of investigators (21 CFR Part 11 §11.50, §11.70, §11.200; SIG-1..3).

- §11.50 (manifestation): a signature shows the signer's printed name, the date and time (UTC) and its
  meaning (approval, review, responsibility, authorship), wherever the record is shown or exported.
- §11.70 (linking): the signature stores the SHA-256 of the signed content (the form record with its version,
  or every form record of the patient for a casebook signature) and a binding hash over signer, meaning, time
  and content. A later edit, or an unlock (REDCap: unlocking negates the e-signature; EDC-3), marks it
  invalidated with who, when and why; a change made around the application shows too, because the content
  no longer hashes to what was signed.
- §11.200(a)(1): the first signing in a session uses both components (user name and password); later
  signings in the same session the password; an API token is no continuous session, so it always needs both.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from equipoise.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    UnauthorizedError,
)
from equipoise.identity.auth import AuthService
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.services.crf_access import (
    form_and_visit,
    form_name,
    name_of,
    patient_for,
    record_key,
    trial_and_protocol,
    user_names,
)
from equipoise.services.site_clock import Clock
from equipoise.services.trials import get_trial, refuse_if_database_locked
from equipoise.store.audit import canonical, record_event
from equipoise.store.crf_models import FormRecord, Signature
from equipoise.store.db import Database
from equipoise.store.models import AuthSession, patient_code
from equipoise.store.types import iso, utcnow

MEANINGS: dict[str, str] = {
    "approval": "I approve the data in this record.",
    "review": "I have reviewed the data in this record.",
    "responsibility": "I take responsibility for the data in this record.",
    "authorship": "I am the author of the data in this record.",
}


def sha256(content: object) -> str:
    return hashlib.sha256(canonical(content).encode()).hexdigest()


def form_content(record: FormRecord) -> dict[str, Any]:
    """What a form signature signs: the record's identity, status, version and every value.

    The record number of a repeating form is part of its identity from #2 on; #1 (every record of a form that
    is not repeating) signs as before record numbers existed, so earlier signatures still match their content."""
    number = {"instance": record.instance} if record.instance != 1 else {}
    return {"trial": record.trial_id, "patient": patient_code(record.patient_id), "form": record.form_id,
            "visit": record.visit_id, **number, "status": record.status, "version": record.version,
            "values": dict(record.field_values)}


def casebook_content(trial_id: str, patient_id: int, records: Iterable[FormRecord]) -> dict[str, Any]:
    """What a casebook signature signs: every form record of the patient."""
    forms = sorted((form_content(r) for r in records), key=lambda c: (c["visit"], c["form"], c.get("instance", 1)))
    return {"trial": trial_id, "patient": patient_code(patient_id), "forms": forms}


def binding_hash(sig: Signature) -> str:
    return sha256({"content_sha256": sig.content_sha256, "user_id": sig.user_id, "username": sig.username,
                   "printed_name": sig.printed_name, "meaning": sig.meaning, "signed_at": iso(sig.signed_at),
                   "scope": sig.scope, "patient_id": sig.patient_id, "form_record_id": sig.form_record_id})


def current_content_hash(s: Session, sig: Signature) -> str | None:
    if sig.scope == "form":
        record = s.get(FormRecord, sig.form_record_id) if sig.form_record_id is not None else None
        return sha256(form_content(record)) if record is not None else None
    records = s.scalars(select(FormRecord).where(FormRecord.patient_id == sig.patient_id)).all()
    return sha256(casebook_content(sig.trial_id, sig.patient_id, records))


@dataclass(frozen=True)
class SignatureView:
    id: int
    scope: str
    patient_code: str
    form_id: str | None
    visit_id: str | None
    instance: int | None
    printed_name: str
    username: str
    signed_at: str
    meaning: str
    statement: str
    status: str  # valid | invalidated
    invalidation: str | None
    content_sha256: str

    @property
    def manifestation(self) -> str:
        when = self.signed_at[:19].replace("T", " ")
        return f"Signed by {self.printed_name} ({self.username}) on {when} UTC; meaning: {self.meaning}"

    def to_dict(self) -> dict[str, object]:
        return {**self.__dict__, "manifestation": self.manifestation}


def signature_view(s: Session, sig: Signature, record: FormRecord | None = None,
                   names: dict[int, tuple[str, str]] | None = None) -> SignatureView:
    """The signature as shown: invalidated if so marked, or if its binding or its content no longer match."""
    invalidation: str | None = None
    if sig.status != "valid":
        who = name_of(names if names is not None else user_names(s, [sig.invalidated_by]), sig.invalidated_by)
        when = iso(sig.invalidated_at) if sig.invalidated_at else "?"
        invalidation = f"invalidated by {who} at {when}: {sig.invalidation_reason}"
    elif binding_hash(sig) != sig.binding_sha256:
        invalidation = "the signature record does not match its binding hash (it was altered)"
    elif current_content_hash(s, sig) != sig.content_sha256:
        invalidation = "the signed content has changed since it was signed"
    if record is None and sig.form_record_id is not None:
        record = s.get(FormRecord, sig.form_record_id)
    return SignatureView(sig.id, sig.scope, patient_code(sig.patient_id), record.form_id if record else None,
                         record.visit_id if record else None, record.instance if record else None, sig.printed_name,
                         sig.username, iso(sig.signed_at), sig.meaning, MEANINGS.get(sig.meaning, sig.meaning),
                         "valid" if invalidation is None else "invalidated", invalidation, sig.content_sha256)


def invalidate(s: Session, *, patient_id: int, form_record_id: int | None, by: int | None, at: dt.datetime,
               reason: str) -> list[int]:
    """Mark the valid signatures of a form record (if given) and the patient's casebook signatures invalidated."""
    query = select(Signature).where(Signature.patient_id == patient_id, Signature.status == "valid")
    ids: list[int] = []
    for sig in s.scalars(query.order_by(Signature.id)):
        if sig.scope == "casebook" or (form_record_id is not None and sig.form_record_id == form_record_id):
            sig.status = "invalidated"
            sig.invalidated_by = by
            sig.invalidated_at = at
            sig.invalidation_reason = reason
            ids.append(sig.id)
    return ids


def signatures_of(s: Session, record_ids: Sequence[int]) -> dict[int, list[Signature]]:
    if not record_ids:
        return {}
    out: dict[int, list[Signature]] = {}
    rows = s.scalars(select(Signature).where(Signature.form_record_id.in_(sorted(set(record_ids))))
                     .order_by(Signature.id))
    for sig in rows:
        assert sig.form_record_id is not None
        out.setdefault(sig.form_record_id, []).append(sig)
    return out


class SignatureService:
    def __init__(self, db: Database, auth: AuthService, clock: Clock = utcnow) -> None:
        self.db = db
        self.auth = auth
        self.clock = clock

    def sign(self, principal: Principal, trial_id: str, patient_id: int, form_id: str | None, visit_id: str | None,
             meaning: str, password: str | None, username: str | None = None, instance: int = 1) -> SignatureView:
        """Sign a form record (form, visit and, for a repeating form, record number given) or the patient's whole
        casebook."""
        if principal.system or principal.user_id is None:
            raise ForbiddenError("a signature is personal: log in as the investigator who signs")
        if meaning not in MEANINGS:
            raise InvalidError(f"meaning must be one of: {', '.join(MEANINGS)} (21 CFR 11.50)")
        with self.db.read() as s:
            patient = patient_for(s, principal, trial_id, patient_id, Action.SIGN)
            _trial, protocol = trial_and_protocol(s, trial_id)
            if form_id is not None and visit_id is not None:
                form_and_visit(protocol, form_id, visit_id, instance)
            both_needed = self._needs_user_name(s, principal)
        if both_needed and not username:
            raise UnauthorizedError("the first signature of a session (and every signature made with an API token) "
                                    "needs your user name and password (21 CFR 11.200(a)(1))")
        if username is not None and username != principal.username:
            with self.db.write(principal.audit_context()) as s:
                record_event(s, "signature.refused", trial_id=trial_id,
                             details={"patient_id": patient_id, "why": "user name does not match the session"})
            raise UnauthorizedError("the user name is not the one of the logged-in user: only the owner of an "
                                    "account can sign with it (21 CFR 11.200(a)(2))")
        self.auth.reauthenticate(principal, password)
        now = self.clock()
        reason = f"electronic signature ({meaning})"
        with self.db.write(principal.audit_context(reason=reason)) as s:
            patient = patient_for(s, principal, trial_id, patient_id, Action.SIGN, lock=True)
            refuse_if_database_locked(trial_id, get_trial(s, trial_id).status)
            record: FormRecord | None = None
            if form_id is not None and visit_id is not None:
                record = s.scalar(select(FormRecord).where(*record_key(patient.id, form_id, visit_id, instance)))
                name = form_name(form_id, visit_id, instance)
                if record is None:
                    raise NotFoundError(f"{name} of patient {patient.code} has not been saved: there is nothing to "
                                        "sign")
                if record.status != "complete":
                    raise ConflictError(f"only a complete form can be signed: {name} is {record.status}")
                content = sha256(form_content(record))
            else:
                records = s.scalars(select(FormRecord).where(FormRecord.patient_id == patient.id)).all()
                if not records:
                    raise ConflictError(f"patient {patient.code} has no saved forms: there is nothing to sign")
                incomplete = sorted(f"{r.form_id}@{r.visit_id}" + (f"#{r.instance}" if r.instance != 1 else "")
                                    for r in records if r.status == "incomplete")
                if incomplete:
                    raise ConflictError(f"the casebook has incomplete forms ({', '.join(incomplete)}): complete them "
                                        "before signing it")
                content = sha256(casebook_content(trial_id, patient.id, records))
            same = s.scalar(select(Signature).where(
                Signature.patient_id == patient.id, Signature.user_id == principal.user_id,
                Signature.meaning == meaning, Signature.status == "valid",
                Signature.content_sha256 == content))
            if same is not None:
                raise ConflictError(f"you already signed this content with meaning {meaning!r} at "
                                    f"{iso(same.signed_at)}")
            sig = Signature(trial_id=trial_id, patient_id=patient.id, form_record_id=record.id if record else None,
                            scope="form" if record else "casebook", user_id=principal.user_id,
                            username=principal.username, printed_name=principal.full_name or principal.username,
                            meaning=meaning, signed_at=now, content_sha256=content, binding_sha256="",
                            session_id=principal.session_id, status="valid")
            sig.binding_sha256 = binding_hash(sig)
            s.add(sig)
            s.flush()
            return signature_view(s, sig, record)

    @staticmethod
    def _needs_user_name(s: Session, principal: Principal) -> bool:
        if principal.session_id is None:
            return True
        kind = s.scalar(select(AuthSession.kind).where(AuthSession.id == principal.session_id))
        if kind != "session":
            return True
        earlier = s.scalar(select(func.count()).select_from(Signature)
                           .where(Signature.session_id == principal.session_id))
        return not earlier

    def list_for_patient(self, principal: Principal, trial_id: str, patient_id: int) -> list[SignatureView]:
        with self.db.read() as s:
            patient = patient_for(s, principal, trial_id, patient_id, Action.VIEW_FORMS)
            sigs = s.scalars(select(Signature).where(Signature.patient_id == patient.id).order_by(Signature.id)).all()
            names = user_names(s, [g.invalidated_by for g in sigs])
            return [signature_view(s, g, names=names) for g in sigs]
