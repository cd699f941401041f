"""Routes of case report forms, schedules, queries, locks, signatures and exports: thin calls into the services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from equipoise.exports import ExportService, Format
from equipoise.server.deps import UserDep, built_once
from equipoise.server.form_schemas import (
    MAX_INSTANCE,
    FormBody,
    FormPatchBody,
    OffStudyBody,
    OptionalMessageBody,
    OptionalReasonBody,
    QueryBody,
    QueryMessageBody,
    ReasonBody,
    SignBody,
)
from equipoise.server.routes import ERRORS, MAX_ID, PatientId
from equipoise.server.schemas import PatientReference, ReauthBody
from equipoise.services.change_reasons import change_reason
from equipoise.services.database_lock import DatabaseLockService
from equipoise.services.forms import FormService
from equipoise.services.locks import LockService
from equipoise.services.off_study import OffStudyService
from equipoise.services.queries import QueryService
from equipoise.services.signatures import SignatureService

router = APIRouter(responses=ERRORS)
Json = dict[str, Any]
FormId = Annotated[str, Path(min_length=1, max_length=64, description="Form id from the protocol.")]
VisitId = Annotated[str, Path(min_length=1, max_length=64, description="Visit id from the protocol.")]
QueryId = Annotated[int, Path(ge=1, le=MAX_ID)]
Instance = Annotated[int, Query(ge=1, le=MAX_INSTANCE, description=(
    "Which record of a repeating (log) form at this visit: 1, 2, ...; a new record takes the next number. Forms "
    "that are not repeating have record 1 only."))]
FORM = "/api/trials/{trial_id}/patients/{patient_id}/forms/{form_id}/{visit_id}"


@dataclass
class CrfServices:
    forms: FormService
    queries: QueryService
    locks: LockService
    signatures: SignatureService
    exports: ExportService
    off_study: OffStudyService
    database_lock: DatabaseLockService


def crf_services(request: Request) -> CrfServices:
    """The form services, built once per application over the core services' database and authentication."""
    return built_once(request, "crf_services", CrfServices, lambda core: CrfServices(
        FormService(core.db), QueryService(core.db), LockService(core.db), SignatureService(core.db, core.auth),
        ExportService(core.db), OffStudyService(core.db), DatabaseLockService(core.db, core.auth)))


Crf = Annotated[CrfServices, Depends(crf_services)]


# --- forms ---------------------------------------------------------------------------------------------------------

@router.get("/api/trials/{trial_id}/patients/{patient_id}/forms", tags=["forms"])
def list_forms(trial_id: str, patient_id: PatientId, user: UserDep, crf: Crf) -> list[Json]:
    """Every saved form of the patient, with status, version, lock, open queries and signatures."""
    return [r.to_dict() for r in crf.forms.list_records(user, trial_id, patient_id)]


@router.get("/api/trials/{trial_id}/forms/{form_id}/schema", tags=["forms"])
def form_schema(trial_id: str, form_id: FormId, user: UserDep, crf: Crf,
                site_id: Annotated[str | None, Query(max_length=64, description="The site whose date picks the "
                                                     "protocol version (default: UTC's date).")] = None,
                on: Annotated[dt.date | None, Query(description="The protocol version in force on this date "
                                                    "instead.")] = None) -> Json:
    """The form's edit checks as JSON Schema (draft 2020-12), for a client to check values before sending them:
    types, ranges, choices, required fields and skip logic (dates against today, the visit and randomization are
    checked by the server only)."""
    return crf.forms.schema(user, trial_id, form_id, site_id, on)


@router.get("/api/trials/{trial_id}/patients/{patient_id}/schedule", tags=["forms"])
def schedule(trial_id: str, patient_id: PatientId, user: UserDep, crf: Crf) -> Json:
    """Visits with their windows and each form's state: complete, incomplete, not-done, due, overdue, upcoming."""
    return crf.forms.patient_schedule(user, trial_id, patient_id)


@router.get(FORM, tags=["forms"])
def get_form(trial_id: str, patient_id: PatientId, form_id: FormId, visit_id: VisitId, user: UserDep,
             crf: Crf, instance: Instance = 1) -> Json:
    return crf.forms.get(user, trial_id, patient_id, form_id, visit_id, instance).to_dict()


@router.put(FORM, tags=["forms"])
def save_form(trial_id: str, patient_id: PatientId, form_id: FormId, visit_id: VisitId, body: FormBody,
              user: UserDep, crf: Crf, instance: Instance = 1) -> Json:
    """Save the whole form. Values are checked per field (422 names each bad field); a change after the first
    save needs a reason and invalidates the form's signatures; a locked form answers 423. A repeating form adds
    a record with the next number (``instance``; 409 names it if another is given)."""
    return crf.forms.save(user, trial_id, patient_id, form_id, visit_id, body.values,
                          reason=change_reason(body.reason_code, body.reason), incomplete=body.incomplete,
                          expected_version=body.expected_version, instance=instance).to_dict()


@router.patch(FORM, tags=["forms"])
def change_form(trial_id: str, patient_id: PatientId, form_id: FormId, visit_id: VisitId, body: FormPatchBody,
                user: UserDep, crf: Crf, instance: Instance = 1) -> Json:
    """Change some fields of a saved form, with a reason."""
    return crf.forms.save(user, trial_id, patient_id, form_id, visit_id, body.values,
                          reason=change_reason(body.reason_code, body.reason), incomplete=body.incomplete,
                          merge=True, expected_version=body.expected_version, instance=instance).to_dict()


@router.post(f"{FORM}/not-done", tags=["forms"])
def not_done(trial_id: str, patient_id: PatientId, form_id: FormId, visit_id: VisitId, body: ReasonBody,
             user: UserDep, crf: Crf, instance: Instance = 1) -> Json:
    """Record that the form will not be collected (e.g. the patient died), or that a repeating form's record
    was entered in error, with the reason."""
    return crf.forms.mark_not_done(user, trial_id, patient_id, form_id, visit_id, body.reason, instance).to_dict()


@router.get(f"{FORM}/history", tags=["forms"])
def form_history(trial_id: str, patient_id: PatientId, form_id: FormId, visit_id: VisitId, user: UserDep,
                 crf: Crf, instance: Instance = 1) -> list[Json]:
    """Every change, field by field, from the audit trail: who, when (UTC), old and new value, reason."""
    return crf.forms.history(user, trial_id, patient_id, form_id, visit_id, instance)


@router.get("/api/trials/{trial_id}/tracking", tags=["forms"])
def tracking(trial_id: str, user: UserDep, crf: Crf,
             site_id: Annotated[str | None, Query(max_length=64)] = None,
             limit: Annotated[int, Query(ge=1, le=1000, description="Overdue forms per page.")] = 100,
             offset: Annotated[int, Query(ge=0, le=MAX_ID, description="Overdue forms to skip.")] = 0) -> Json:
    """Per site: forms complete, incomplete, due, overdue and open queries; and the list of overdue forms, most
    overdue first, a page at a time (``limit``, default 100, and ``offset``; ``overdue_total`` counts them all)."""
    return crf.forms.tracking(user, trial_id, site_id, limit=limit, offset=offset)


# --- locks and signatures ------------------------------------------------------------------------------------------

@router.post(f"{FORM}/lock", tags=["locks"])
def lock_form(trial_id: str, patient_id: PatientId, form_id: FormId, visit_id: VisitId, user: UserDep, crf: Crf,
              body: OptionalReasonBody | None = None, instance: Instance = 1) -> Json:
    return crf.locks.lock_form(user, trial_id, patient_id, form_id, visit_id, body.reason if body else None,
                               instance)


@router.post(f"{FORM}/unlock", tags=["locks"])
def unlock_form(trial_id: str, patient_id: PatientId, form_id: FormId, visit_id: VisitId, body: ReasonBody,
                user: UserDep, crf: Crf, instance: Instance = 1) -> Json:
    """Unlock with a reason; the form's (and the casebook's) signatures become invalidated."""
    return crf.locks.unlock_form(user, trial_id, patient_id, form_id, visit_id, body.reason, instance)


@router.post("/api/trials/{trial_id}/patients/{patient_id}/off-study", tags=["forms"], status_code=201)
def record_off_study(trial_id: str, patient_id: PatientId, body: OffStudyBody, user: UserDep, crf: Crf) -> Json:
    """Record that the patient left the study (withdrew consent, lost to follow-up, investigator's decision)."""
    return dict(crf.off_study.record(user, trial_id, patient_id, body.kind, body.effective_date, body.reason).to_dict())


@router.get("/api/trials/{trial_id}/patients/{patient_id}/off-study", tags=["forms"])
def get_off_study(trial_id: str, patient_id: PatientId, user: UserDep, crf: Crf) -> Json:
    """The patient's off-study record (404 while the patient is on study)."""
    return dict(crf.off_study.get(user, trial_id, patient_id).to_dict())


@router.post("/api/trials/{trial_id}/patients/{patient_id}/off-study/cancel", tags=["forms"])
def cancel_off_study(trial_id: str, patient_id: PatientId, body: ReasonBody, user: UserDep, crf: Crf) -> Json:
    """Cancel an off-study record made in error, or when the patient comes back, with a reason."""
    return crf.off_study.cancel(user, trial_id, patient_id, body.reason)


@router.post("/api/trials/{trial_id}/patients/{patient_id}/lock", tags=["locks"])
def lock_patient(trial_id: str, patient_id: PatientId, user: UserDep, crf: Crf,
                 body: OptionalReasonBody | None = None) -> Json:
    return crf.locks.lock_patient(user, trial_id, patient_id, body.reason if body else None)


@router.post("/api/trials/{trial_id}/patients/{patient_id}/unlock", tags=["locks"])
def unlock_patient(trial_id: str, patient_id: PatientId, body: ReasonBody, user: UserDep, crf: Crf) -> Json:
    return crf.locks.unlock_patient(user, trial_id, patient_id, body.reason)


@router.post("/api/trials/{trial_id}/database-lock", tags=["locks"])
def lock_database(trial_id: str, body: ReauthBody, user: UserDep, crf: Crf) -> Json:
    """Lock the trial's database before the final analysis (monitor; every query closed; password again): no
    enrolment, randomization or data change until it is unlocked. Emergency unblinding stays possible."""
    return crf.database_lock.lock(user, trial_id, body.reason, body.password)


@router.post("/api/trials/{trial_id}/database-unlock", tags=["locks"])
def unlock_database(trial_id: str, body: ReauthBody, user: UserDep, crf: Crf) -> Json:
    """Unlock the trial's database, with a reason and the password again."""
    return crf.database_lock.unlock(user, trial_id, body.reason, body.password)


@router.post(f"{FORM}/sign", tags=["signatures"], status_code=201)
def sign_form(trial_id: str, patient_id: PatientId, form_id: FormId, visit_id: VisitId, body: SignBody,
              user: UserDep, crf: Crf, instance: Instance = 1) -> Json:
    """Sign a complete form (investigator, own site): printed name, UTC time and meaning, bound to the form's
    content hash; needs the password (and the user name at the first signature of a session)."""
    return crf.signatures.sign(user, trial_id, patient_id, form_id, visit_id, body.meaning, body.password,
                               body.username, instance).to_dict()


@router.post("/api/trials/{trial_id}/patients/{patient_id}/sign", tags=["signatures"], status_code=201)
def sign_casebook(trial_id: str, patient_id: PatientId, body: SignBody, user: UserDep, crf: Crf) -> Json:
    """Sign the patient's whole casebook (every saved form)."""
    return crf.signatures.sign(user, trial_id, patient_id, None, None, body.meaning, body.password,
                               body.username).to_dict()


@router.get("/api/trials/{trial_id}/patients/{patient_id}/signatures", tags=["signatures"])
def signatures(trial_id: str, patient_id: PatientId, user: UserDep, crf: Crf) -> list[Json]:
    return [v.to_dict() for v in crf.signatures.list_for_patient(user, trial_id, patient_id)]


# --- queries -------------------------------------------------------------------------------------------------------

@router.post("/api/trials/{trial_id}/queries", tags=["queries"], status_code=201)
def raise_query(trial_id: str, body: QueryBody, user: UserDep, crf: Crf) -> Json:
    """Raise a query on a form or one of its fields (monitor)."""
    return crf.queries.raise_query(user, trial_id, body.patient_id, body.form_id, body.visit_id, body.field_id,
                                   body.text, body.instance).to_dict()


@router.get("/api/trials/{trial_id}/queries", tags=["queries"])
def list_queries(trial_id: str, user: UserDep, crf: Crf,
                 status: Annotated[str | None, Query(description="open, answered or closed")] = None,
                 patient_id: Annotated[PatientReference | None, Query()] = None,
                 site_id: Annotated[str | None, Query(max_length=64)] = None,
                 after_id: Annotated[int, Query(ge=0, le=MAX_ID, description="The last id seen.")] = 0,
                 limit: Annotated[int, Query(ge=1, le=1000, description="Queries per page.")] = 100) -> list[Json]:
    """The queries in id order, a page at a time (``limit``, default 100; the next page after the last id seen)."""
    return [q.to_dict() for q in crf.queries.list_queries(user, trial_id, status=status, patient_id=patient_id,
                                                          site_id=site_id, after_id=after_id, limit=limit)]


@router.get("/api/trials/{trial_id}/queries/{query_id}", tags=["queries"])
def get_query(trial_id: str, query_id: QueryId, user: UserDep, crf: Crf) -> Json:
    return crf.queries.get(user, trial_id, query_id).to_dict()


@router.post("/api/trials/{trial_id}/queries/{query_id}/answer", tags=["queries"])
def answer_query(trial_id: str, query_id: QueryId, body: QueryMessageBody, user: UserDep, crf: Crf) -> Json:
    """Answer an open query (the patient's site)."""
    return crf.queries.answer(user, trial_id, query_id, body.text).to_dict()


@router.post("/api/trials/{trial_id}/queries/{query_id}/close", tags=["queries"])
def close_query(trial_id: str, query_id: QueryId, user: UserDep, crf: Crf,
                body: OptionalMessageBody | None = None) -> Json:
    return crf.queries.close(user, trial_id, query_id, body.text if body else None).to_dict()


@router.post("/api/trials/{trial_id}/queries/{query_id}/reopen", tags=["queries"])
def reopen_query(trial_id: str, query_id: QueryId, body: QueryMessageBody, user: UserDep, crf: Crf) -> Json:
    """Reopen an answered query that does not resolve the issue (monitor)."""
    return crf.queries.reopen(user, trial_id, query_id, body.text).to_dict()


# --- exports -------------------------------------------------------------------------------------------------------

ExportFormat = Annotated[Format, Query(description="csv, parquet (typed columns), dataset-json (CDISC "
                                                   "Dataset-JSON 1.1), odm or all of them")]
Unblinded = Annotated[bool, Query(description="Show arms (unblinded statistician and DMC only).")]
SiteFilter = Annotated[str | None, Query(max_length=64, description="Only this site.")]
RawCsv = Annotated[bool, Query(description="CSV text cells as stored, for analysis code; by default a cell "
                               "starting with =, +, -, @, tab or CR gets a leading ' (OWASP CSV injection).")]
Responses = dict[int | str, dict[str, Any]]
ZIP: Responses = {200: {"content": {"application/zip": {}}, "description": "A zip of the export's files."}}
XML: Responses = {200: {"content": {"application/xml": {}}, "description": "CDISC ODM 1.3.2 XML."}}


@router.get("/api/trials/{trial_id}/export", tags=["exports"], response_class=Response, responses=ZIP)
def export_zip(trial_id: str, user: UserDep, crf: Crf, format: ExportFormat = "all",
               unblinded: Unblinded = False, site_id: SiteFilter = None, raw_csv: RawCsv = False) -> Response:
    """A zip: CSV files (one per form, patients, allocations, queries, signatures, audit trail, analysis.csv,
    data_dictionary.csv), the same tables as Parquet files with typed columns, and/or ODM 1.3.2 (odm.xml snapshot,
    odm_audit.xml history), with manifest.json."""
    bundle = crf.exports.export(user, trial_id, fmt=format, unblinded=unblinded, site_id=site_id, raw_csv=raw_csv)
    name = f"{trial_id}-{format}-{bundle.manifest['exported_at'][:19].replace(':', '')}.zip"
    return Response(bundle.zip_bytes(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/api/trials/{trial_id}/export/odm", tags=["exports"], response_class=Response, responses=XML)
def export_odm(trial_id: str, user: UserDep, crf: Crf, unblinded: Unblinded = False, site_id: SiteFilter = None,
               history: Annotated[bool, Query(description="The transactional file with every change.")] = False,
               ) -> Response:
    """CDISC ODM 1.3.2: the snapshot with audit records of the last changes, or (history) every change."""
    bundle = crf.exports.export(user, trial_id, fmt="odm", unblinded=unblinded, site_id=site_id)
    return Response(bundle.files["odm_audit.xml" if history else "odm.xml"], media_type="application/xml")
