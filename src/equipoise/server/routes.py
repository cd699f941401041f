"""The JSON API's routes. Each one authenticates, calls one service, and returns the service's result."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response

from equipoise.errors import InvalidError
from equipoise.identity.roles import parse_role
from equipoise.integrity.audit_verify import verify_for
from equipoise.server.deps import SvcDep, UserDep, client_source
from equipoise.server.schemas import (
    AdaptiveBody,
    AmendBody,
    CorrectionBody,
    EnrolBody,
    LoginBody,
    PasswordBody,
    PasswordOnlyBody,
    PatientReference,
    Problem,
    RandomizeBody,
    ReauthBody,
    RevokeBody,
    RoleGrant,
    TokenBody,
    TrialBody,
    TwoFactorCodeBody,
    TwoFactorOffBody,
    UserBody,
)
from equipoise.services import trials as trial_store
from equipoise.services import users as user_store
from equipoise.services.audit_view import read_audit
from equipoise.services.change_reasons import change_reason
from equipoise.services.replay import replay_for

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem} for code in (400, 401, 403, 404, 409, 422, 423)
}
router = APIRouter(responses=ERRORS)
Json = dict[str, Any]
MAX_ID = 2_147_483_647  # the largest INTEGER on PostgreSQL: larger ids cannot exist
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
PatientId = Annotated[PatientReference, Path(description="The patient's code (P-000123) or number (123).")]


@router.get("/health", tags=["server"])
def health() -> Json:
    return {"status": "ok"}


# --- authentication ----------------------------------------------------------------------------------------------

@router.post("/api/auth/login", tags=["auth"])
def login(body: LoginBody, request: Request, svc: SvcDep) -> Json:
    """Log in; the token expires after the idle time-out without activity. Repeated failures lock the account."""
    return svc.auth.login(body.username, body.password, client_source(request), body.code).to_dict()


@router.post("/api/auth/2fa/setup", tags=["auth"])
def two_factor_setup(body: PasswordOnlyBody, user: UserDep, svc: SvcDep) -> Json:
    """Start two-factor login (password again): a secret and an otpauth:// URI for the authenticator app; it
    takes effect once POST /api/auth/2fa/confirm gets a code from the app."""
    return svc.auth.start_two_factor(user, body.password)


@router.post("/api/auth/2fa/confirm", tags=["auth"])
def two_factor_confirm(body: TwoFactorCodeBody, user: UserDep, svc: SvcDep) -> Json:
    svc.auth.confirm_two_factor(user, body.code)
    return {"two_factor": True}


@router.post("/api/auth/2fa/disable", tags=["auth"])
def two_factor_disable(body: TwoFactorOffBody, user: UserDep, svc: SvcDep) -> Json:
    svc.auth.disable_two_factor(user, body.password, body.code)
    return {"two_factor": False}


@router.post("/api/auth/logout", tags=["auth"])
def logout(user: UserDep, svc: SvcDep) -> Json:
    svc.auth.logout(user)
    return {"status": "logged out"}


@router.get("/api/auth/me", tags=["auth"])
def me(user: UserDep) -> Json:
    return {"id": user.user_id, "username": user.username, "full_name": user.full_name,
            "roles": [{"role": g.role.value, "trial_id": g.trial_id, "site_id": g.site_id} for g in user.grants]}


@router.post("/api/auth/password", tags=["auth"])
def change_password(body: PasswordBody, user: UserDep, svc: SvcDep) -> Json:
    """Change your own password (the current one is asked first)."""
    svc.auth.change_password(user, body.old_password, body.new_password)
    return {"status": "password changed"}


@router.post("/api/auth/tokens", tags=["auth"], status_code=201)
def create_token(body: TokenBody, user: UserDep, svc: SvcDep) -> Json:
    """An API token for scripts (no idle time-out); needs your password again."""
    return svc.auth.create_api_token(user, body.name, body.password, body.days).to_dict()


# --- users -------------------------------------------------------------------------------------------------------

def _grants(items: list[Any]) -> list[Any]:
    try:
        return [(parse_role(g.role), g.trial_id, g.site_id) for g in items]
    except ValueError as exc:
        raise InvalidError(str(exc)) from None


@router.get("/api/users", tags=["users"])
def list_users(user: UserDep, svc: SvcDep,
               after_id: Annotated[int, Query(ge=0, le=MAX_ID, description="The last user id seen.")] = 0,
               limit: Annotated[int, Query(ge=1, le=1000, description="Users per page.")] = 100) -> list[Json]:
    """The users in id order, a page at a time (``limit``, default 100; then after the last id seen)."""
    return [u.to_dict() for u in user_store.list_users(svc.db, user, after_id=after_id, limit=limit)]


@router.post("/api/users", tags=["users"], status_code=201)
def add_user(body: UserBody, user: UserDep, svc: SvcDep) -> Json:
    return user_store.add_user(svc.db, user, body.username, body.full_name, body.password, body.email,
                               _grants(body.roles)).to_dict()


@router.post("/api/users/{username}/roles", tags=["users"], status_code=201)
def grant_role(username: str, body: RoleGrant, user: UserDep, svc: SvcDep) -> Json:
    """Give a user a role (audited); site-scoped roles need a site."""
    ((role, trial_id, site_id),) = _grants([body])
    return user_store.grant_role(svc.db, user, username, role, trial_id, site_id).to_dict()


@router.post("/api/users/{username}/deactivate", tags=["users"])
def deactivate_user(username: str, body: RevokeBody, user: UserDep, svc: SvcDep) -> Json:
    """Deactivate a user, with a reason (admin; audited): no login, and every session and API token of theirs
    stops working at once."""
    return user_store.deactivate_user(svc.db, user, username, body.reason).to_dict()


@router.post("/api/users/{username}/activate", tags=["users"])
def activate_user(username: str, body: RevokeBody, user: UserDep, svc: SvcDep) -> Json:
    """Activate a deactivated user again, with a reason (admin; audited)."""
    return user_store.activate_user(svc.db, user, username, body.reason).to_dict()


@router.post("/api/roles/{membership_id}/revoke", tags=["users"])
def revoke(membership_id: RowId, body: RevokeBody, user: UserDep, svc: SvcDep) -> Json:
    user_store.revoke_role(svc.db, user, membership_id, body.reason)
    return {"status": "revoked", "id": membership_id}


# --- trials ------------------------------------------------------------------------------------------------------

@router.get("/api/trials", tags=["trials"])
def list_trials(user: UserDep, svc: SvcDep,
                after_id: Annotated[str, Query(max_length=200, description="The last trial id seen.")] = "",
                limit: Annotated[int, Query(ge=1, le=1000, description="Trials per page.")] = 100) -> list[Json]:
    """The trials one sees in id order, a page at a time (``limit``, default 100; then after the last id seen)."""
    return [t.to_dict() for t in trial_store.list_trials(svc.db, user, after_id=after_id, limit=limit)]


@router.post("/api/trials", tags=["trials"], status_code=201)
def create_trial(body: TrialBody, user: UserDep, svc: SvcDep) -> Json:
    """Load a protocol file as a new trial (admin; password again: ACC-4, publishing a configuration)."""
    return trial_store.create_trial(svc.db, user, body.protocol_yaml, body.filename,
                                    lambda: svc.auth.reauthenticate(user, body.password), test=body.test).to_dict()


@router.put("/api/trials/{trial_id}/protocol", tags=["trials"])
def amend_trial(trial_id: str, body: AmendBody, user: UserDep, svc: SvcDep) -> Json:
    """Load a new version of the protocol file that adds amendments (effective today or later; admin, password
    again)."""
    return trial_store.amend_trial(svc.db, user, body.protocol_yaml, body.reason, body.filename,
                                   expect_trial=trial_id,
                                   reauthenticate=lambda: svc.auth.reauthenticate(user, body.password)).to_dict()


@router.get("/api/trials/{trial_id}", tags=["trials"])
def get_trial(trial_id: str, user: UserDep, svc: SvcDep) -> Json:
    return trial_store.trial_for(svc.db, user, trial_id).to_dict()


@router.get("/api/trials/{trial_id}/protocol", tags=["trials"])
def get_protocol(trial_id: str, user: UserDep, svc: SvcDep,
                 on: Annotated[dt.date | None, Query(description="Date (YYYY-MM-DD); default today.")] = None) -> Json:
    """The protocol in force on a date; block sizes are left out for roles that may not see arms."""
    return trial_store.protocol_for(svc.db, user, trial_id, on)


# --- enrolment and randomization -----------------------------------------------------------------------------------

@router.post("/api/trials/{trial_id}/patients", tags=["patients"], status_code=201)
def enrol(trial_id: str, body: EnrolBody, user: UserDep, svc: SvcDep,
          idempotency_key: Annotated[str | None, Header(max_length=100)] = None) -> Json:
    """Enrol a patient: eligibility is checked here; an ineligible patient gets 422 with the failed criteria."""
    return svc.patients.enrol(user, trial_id, body.site_id, body.values, idempotency_key).to_dict()


@router.get("/api/trials/{trial_id}/patients", tags=["patients"])
def list_patients(trial_id: str, user: UserDep, svc: SvcDep, site_id: str | None = None,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                  offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> list[Json]:
    return [p.to_dict() for p in svc.patients.list_patients(user, trial_id, site_id, limit, offset)]


@router.get("/api/trials/{trial_id}/patients/{patient_id}", tags=["patients"])
def get_patient(trial_id: str, patient_id: PatientId, user: UserDep, svc: SvcDep) -> Json:
    return svc.patients.get(user, trial_id, patient_id).to_dict()


@router.patch("/api/trials/{trial_id}/patients/{patient_id}", tags=["patients"])
def correct_patient(trial_id: str, patient_id: PatientId, body: CorrectionBody, user: UserDep, svc: SvcDep) -> Json:
    """Correct enrolment values with a reason; the allocation never changes, differences become discrepancies."""
    patient, raised = svc.patients.correct(user, trial_id, patient_id, body.values,
                                           change_reason(body.reason_code, body.reason))
    return {"patient": patient.to_dict(), "discrepancies": raised}


@router.post("/api/trials/{trial_id}/patients/{patient_id}/randomize", tags=["randomization"], status_code=201)
def randomize(trial_id: str, patient_id: PatientId, user: UserDep, svc: SvcDep, response: Response,
              body: RandomizeBody | None = None,
              idempotency_key: Annotated[str | None, Header(max_length=100)] = None) -> Json:
    """Randomize; a retry with the same Idempotency-Key returns the same allocation (200, replayed: true)."""
    key = idempotency_key or (body.idempotency_key if body else None)
    if not key:
        raise InvalidError("send an Idempotency-Key header (any unique text, reused on retry)")
    view = svc.randomization.randomize(user, trial_id, patient_id, key)
    if view.replayed:
        response.status_code = 200
    return view.to_dict()


@router.post("/api/trials/{trial_id}/enrol-and-randomize", tags=["randomization"], status_code=201)
def enrol_and_randomize(trial_id: str, body: EnrolBody, user: UserDep, svc: SvcDep, response: Response,
                        idempotency_key: Annotated[str | None, Header(max_length=100)] = None) -> Json:
    """Enrol (eligibility checked) and randomize in one transaction; a retry with the same Idempotency-Key
    returns the same patient and allocation (200, replayed: true). An ineligible patient gets 422 with the
    failed criteria and is neither enrolled nor randomized."""
    if not idempotency_key:
        raise InvalidError("send an Idempotency-Key header (any unique text, reused on retry)")
    result = svc.enrol_randomize.run(user, trial_id, body.site_id, body.values, idempotency_key)
    if result.replayed:
        response.status_code = 200
    return result.to_dict()


@router.get("/api/trials/{trial_id}/patients/{patient_id}/allocation", tags=["randomization"])
def get_allocation(trial_id: str, patient_id: PatientId, user: UserDep, svc: SvcDep) -> Json:
    return svc.randomization.get(user, trial_id, patient_id).to_dict()


@router.get("/api/trials/{trial_id}/allocations", tags=["randomization"])
def list_allocations(trial_id: str, user: UserDep, svc: SvcDep,
                     limit: Annotated[int, Query(ge=1, le=10000)] = 100,
                     offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> list[Json]:
    return [a.to_dict() for a in svc.randomization.list_allocations(user, trial_id, limit, offset)]


@router.get("/api/trials/{trial_id}/discrepancies", tags=["patients"])
def discrepancies(trial_id: str, user: UserDep, svc: SvcDep,
                  after_id: Annotated[int, Query(ge=0, le=MAX_ID, description="The last id seen.")] = 0,
                  limit: Annotated[int, Query(ge=1, le=1000, description="Discrepancies per page.")] = 100
                  ) -> list[Json]:
    """The discrepancies in id order, a page at a time (``limit``, default 100; then after the last id seen)."""
    return svc.patients.discrepancies(user, trial_id, after_id=after_id, limit=limit)


# --- unblinding, adaptive tables, aggregates ------------------------------------------------------------------------

@router.post("/api/trials/{trial_id}/patients/{patient_id}/emergency-unblind", tags=["unblinding"])
def emergency_unblind(trial_id: str, patient_id: PatientId, body: ReauthBody, user: UserDep, svc: SvcDep) -> Json:
    """Reveal one patient's arm at once (investigator, own site, reason and password); audited and notified."""
    return svc.unblinding.emergency(user, trial_id, patient_id, body.reason, body.password)


@router.post("/api/trials/{trial_id}/unblind", tags=["unblinding"])
def planned_unblind(trial_id: str, body: ReauthBody, user: UserDep, svc: SvcDep) -> Json:
    return svc.unblinding.planned(user, trial_id, body.reason, body.password)


@router.get("/api/trials/{trial_id}/notifications", tags=["unblinding"])
def notifications(trial_id: str, user: UserDep, svc: SvcDep,
                  after_id: Annotated[int, Query(ge=0, le=MAX_ID, description="The last id seen.")] = 0,
                  limit: Annotated[int, Query(ge=1, le=1000, description="Notifications per page.")] = 100
                  ) -> list[Json]:
    """The trial's notifications in id order, a page at a time (``limit``, default 100; then after the last id)."""
    return svc.unblinding.notifications(user, trial_id, after_id=after_id, limit=limit)


@router.get("/api/trials/{trial_id}/adaptive-tables", tags=["randomization"])
def adaptive_tables(trial_id: str, user: UserDep, svc: SvcDep) -> list[Json]:
    return svc.unblinding.tables(user, trial_id)


@router.post("/api/trials/{trial_id}/adaptive-tables", tags=["randomization"], status_code=201)
def publish_adaptive(trial_id: str, body: AdaptiveBody, user: UserDep, svc: SvcDep) -> Json:
    return svc.unblinding.publish_table(user, trial_id, body.probabilities, body.reason, body.password,
                                        body.effective_at)


@router.get("/api/trials/{trial_id}/aggregates", tags=["unblinding"])
def aggregates(trial_id: str, user: UserDep, svc: SvcDep) -> Json:
    return svc.unblinding.aggregates(user, trial_id)


@router.get("/api/trials/{trial_id}/replay", tags=["randomization"])
def replay(trial_id: str, user: UserDep, svc: SvcDep) -> Json:
    return replay_for(svc.db, user, trial_id).to_dict()


# --- audit ---------------------------------------------------------------------------------------------------------

@router.get("/api/audit", tags=["audit"])
def audit(user: UserDep, svc: SvcDep, trial_id: str | None = None, table: str | None = None,
          record_id: str | None = None, actor: Annotated[str | None, Query(max_length=64)] = None,
          action: Annotated[str | None, Query(max_length=40)] = None,
          since: Annotated[dt.datetime | None, Query(description="From this time (ISO 8601; UTC if no zone).")] = None,
          until: Annotated[dt.datetime | None, Query(description="Before this time.")] = None,
          patient_id: Annotated[PatientReference | None, Query(description="One subject's whole history (code or "
                                                               "number).")] = None,
          site_id: Annotated[str | None, Query(max_length=64, description="One site's entries.")] = None,
          after_id: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
          limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[Json]:
    """The audit trail in order, filtered by trial, table, record, subject, site, user (actor), action and time;
    arms and allocation secrets masked for blinded readers; a reader scoped to some sites sees their entries only.
    Page with after_id (the last id seen)."""
    return read_audit(svc.db, user, trial_id=trial_id, table=table, record_id=record_id, actor=actor, action=action,
                      since=since, until=until, patient_id=patient_id, site_id=site_id, after_id=after_id,
                      limit=limit)


@router.get("/api/audit/verify", tags=["audit"])
def audit_verify(user: UserDep, svc: SvcDep) -> Json:
    return verify_for(svc.db, user).to_dict()
