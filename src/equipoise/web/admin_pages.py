"""The data manager's and administrator's pages: users and their roles at the trial's sites, protocol amendments
(upload, check, what changes and from when, then activate with the password again), the audit trail's
verification, and exports in every format with their manifest.

Each handler calls the service the API route calls (services.users, services.trials.check_amendment and
amend_trial, integrity.audit_verify.verify, ExportService.export); their refusals are shown next to the field.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from equipoise.errors import ForbiddenError, InvalidError, ServiceError
from equipoise.exports import ExportService
from equipoise.exports.service import FORMATS
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action, Role, parse_role
from equipoise.integrity.audit_verify import verify
from equipoise.services import trials as trial_store
from equipoise.services import users as user_store
from equipoise.services.database_lock import DatabaseLockService
from equipoise.services.randomization_lists import RandomizationListService
from equipoise.services.trials import TrialView
from equipoise.web.access import PagePrincipal
from equipoise.web.core import built_once, core
from equipoise.web.forms import FormState, posted
from equipoise.web.navigation import ROLE_NAMES
from equipoise.web.pages import language, render
from equipoise.web.trial_pages import visible_trial

router = APIRouter(include_in_schema=False)
MAX_PROTOCOL_BYTES = 1_000_000


def _admin_trial(request: Request, principal: Principal, trial_id: str, action: Action) -> TrialView:
    trial = visible_trial(request, principal, trial_id)
    principal.require(action, None)
    return trial


def _field_of(message: str, fields: tuple[str, ...], fallback: str) -> str:
    """The form field a service's refusal is about (the first field named in it), else ``fallback``."""
    words = message.replace("'", " ").replace(",", " ").split()
    return next((f for f in fields if f.replace("_", " ") in message or f in words), fallback)


# --- users, sites and roles ------------------------------------------------------------------------------------

def _users_page(request: Request, principal: Principal, trial: TrialView, form: FormState,
                status: int = 200) -> HTMLResponse:
    users = user_store.list_users(core(request).db, principal)
    in_trial = [u for u in users if any(r.trial_id in (None, trial.id) for r in u.roles) or not u.roles]
    return render(request, "admin_users.html", principal=principal, trial_id=trial.id, trial_title=trial.title,
                  trial=trial, users=in_trial, form=form, status=status, role_names=ROLE_NAMES,
                  all_roles=list(Role), named_role=_named_role)


def _named_role(value: str) -> str:
    try:
        return ROLE_NAMES[Role(value)]
    except ValueError:
        return value


@router.get("/trials/{trial_id}/admin/users", response_class=HTMLResponse)
def users_page(request: Request, trial_id: str, principal: PagePrincipal) -> Response:
    trial = _admin_trial(request, principal, trial_id, Action.MANAGE_USERS)
    return _users_page(request, principal, trial, FormState())


def _grant(trial: TrialView, values: dict[str, str]) -> tuple[Role, str | None, str | None]:
    try:
        role = parse_role(values.get("role", ""))
    except ValueError as exc:
        raise InvalidError(str(exc)) from None
    return role, trial.id, values.get("site_id") or None


@router.post("/trials/{trial_id}/admin/users", response_class=HTMLResponse)
async def create_user(request: Request, trial_id: str, principal: PagePrincipal) -> Response:
    form = await posted(request)
    trial = _admin_trial(request, principal, trial_id, Action.MANAGE_USERS)
    _ = language(request).gettext
    v = form.values
    try:
        grants: list[tuple[Role, str | None, str | None]] = [_grant(trial, v)] if v.get("role") else []
        user_store.add_user(core(request).db, principal, v.get("username", "").strip(), v.get("full_name", "").strip(),
                            v.get("password", ""), v.get("email", "").strip() or None, grants)
    except ServiceError as refused:
        form.error(_field_of(refused.message, ("username", "password", "email", "full_name", "site_id", "role"),
                             "username"), _(refused.message))
        return _users_page(request, principal, trial, form, status=refused.status)
    return RedirectResponse(f"/trials/{trial_id}/admin/users", status_code=303)


@router.post("/trials/{trial_id}/admin/users/{username}/roles", response_class=HTMLResponse)
async def grant_role(request: Request, trial_id: str, username: str, principal: PagePrincipal) -> Response:
    form = await posted(request)
    trial = _admin_trial(request, principal, trial_id, Action.MANAGE_USERS)
    _ = language(request).gettext
    try:
        role, _trial, site_id = _grant(trial, form.values)
        user_store.grant_role(core(request).db, principal, username, role, trial_id, site_id)
    except ServiceError as refused:
        form.values["grant_to"] = username
        form.error(f"grant-{username}", _(refused.message))
        return _users_page(request, principal, trial, form, status=refused.status)
    return RedirectResponse(f"/trials/{trial_id}/admin/users", status_code=303)


@router.post("/trials/{trial_id}/admin/roles/{membership_id}/revoke", response_class=HTMLResponse)
async def revoke_role(request: Request, trial_id: str, membership_id: int, principal: PagePrincipal) -> Response:
    form = await posted(request)
    trial = _admin_trial(request, principal, trial_id, Action.MANAGE_USERS)
    _ = language(request).gettext
    try:
        user_store.revoke_role(core(request).db, principal, membership_id, form.values.get("reason", ""))
    except ServiceError as refused:
        form.error(f"revoke-{membership_id}", _(refused.message))
        return _users_page(request, principal, trial, form, status=refused.status)
    return RedirectResponse(f"/trials/{trial_id}/admin/users", status_code=303)


# --- protocol amendments ---------------------------------------------------------------------------------------

def _amend_page(request: Request, principal: Principal, trial: TrialView, form: FormState, *, status: int = 200,
                added: list[Any] | None = None, done: TrialView | None = None) -> HTMLResponse:
    return render(request, "admin_amend.html", principal=principal, trial_id=trial.id, trial_title=trial.title,
                  trial=trial, form=form, status=status, added=added or [], done=done)


@router.get("/trials/{trial_id}/admin/amend", response_class=HTMLResponse)
def amend_form(request: Request, trial_id: str, principal: PagePrincipal) -> Response:
    trial = _admin_trial(request, principal, trial_id, Action.CREATE_TRIAL)
    return _amend_page(request, principal, trial, FormState())


async def _uploaded_text(request: Request) -> tuple[str, str] | None:
    """The uploaded protocol file's text and name, if a file was chosen."""
    upload = (await request.form()).get("protocol_file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    content = await upload.read(MAX_PROTOCOL_BYTES + 1)
    if len(content) > MAX_PROTOCOL_BYTES:
        raise InvalidError("the protocol file is larger than 1 MB")
    try:
        return content.decode("utf-8"), upload.filename
    except UnicodeDecodeError:
        raise InvalidError("the protocol file is not UTF-8 text") from None


@router.post("/trials/{trial_id}/admin/amend", response_class=HTMLResponse)
async def amend_submit(request: Request, trial_id: str, principal: PagePrincipal) -> Response:
    form = await posted(request)
    trial = _admin_trial(request, principal, trial_id, Action.CREATE_TRIAL)
    _ = language(request).gettext
    db = core(request).db
    field = "protocol_file"
    added: list[Any] | None = None
    try:
        if form.values.get("step") != "activate":
            uploaded = await _uploaded_text(request)
            if uploaded is None:
                raise InvalidError("choose the protocol file (YAML) that adds the amendment")
            form.values["protocol_yaml"], form.values["filename"] = uploaded
            added = trial_store.check_amendment(db, principal, uploaded[0], uploaded[1], expect_trial=trial_id)
            return _amend_page(request, principal, trial, form, added=added)
        text, filename = form.values.get("protocol_yaml", ""), form.values.get("filename", "protocol.yaml")
        added = trial_store.check_amendment(db, principal, text, filename, expect_trial=trial_id)
        field = "password"
        done = trial_store.amend_trial(
            db, principal, text, form.values.get("reason", ""), filename, expect_trial=trial_id,
            reauthenticate=lambda: core(request).auth.reauthenticate(principal, form.values.get("password") or None))
    except ServiceError as refused:
        if field == "password" and "reason" in refused.message:
            field = "reason"
        form.error(field, _(refused.message))
        shown = added if field in ("password", "reason") else None
        return _amend_page(request, principal, trial, form, status=refused.status, added=shown)
    return _amend_page(request, principal, trial, FormState(), added=added, done=done)


# --- audit verification ----------------------------------------------------------------------------------------

@router.get("/trials/{trial_id}/admin/audit-verify", response_class=HTMLResponse)
def audit_verify_form(request: Request, trial_id: str, principal: PagePrincipal) -> Response:
    trial = visible_trial(request, principal, trial_id)
    if not principal.is_admin:
        raise ForbiddenError("only an admin can verify the whole audit trail")
    return render(request, "admin_audit_verify.html", principal=principal, trial_id=trial_id, trial_title=trial.title,
                  report=None)


@router.post("/trials/{trial_id}/admin/audit-verify", response_class=HTMLResponse)
async def audit_verify_run(request: Request, trial_id: str, principal: PagePrincipal) -> Response:
    await posted(request)
    trial = visible_trial(request, principal, trial_id)
    if not principal.is_admin:
        raise ForbiddenError("only an admin can verify the whole audit trail")
    report = verify(core(request).db)
    return render(request, "admin_audit_verify.html", principal=principal, trial_id=trial_id, trial_title=trial.title,
                  report=report)


# --- exports ---------------------------------------------------------------------------------------------------

def _exports(request: Request) -> ExportService:
    return built_once(request, "web_exports", ExportService, lambda c: ExportService(c.db))


def _export_page(request: Request, principal: Principal, trial: TrialView, form: FormState, *,
                 manifest: dict[str, Any] | None = None, status: int = 200) -> HTMLResponse:
    allowed = principal.site_filter(Action.EXPORT, trial.id)
    return render(request, "exports.html", principal=principal, trial_id=trial.id, trial_title=trial.title,
                  form=form, formats=FORMATS, manifest=manifest, status=status,
                  sites=[s for s in trial.sites if allowed is None or s["id"] in allowed],
                  may_unblind=principal.sees_arms(trial.id, trial.blinded, None) or not trial.blinded)


@router.get("/trials/{trial_id}/exports", response_class=HTMLResponse)
def export_form(request: Request, trial_id: str, principal: PagePrincipal) -> Response:
    trial = visible_trial(request, principal, trial_id)
    principal.require(Action.EXPORT, trial_id)
    return _export_page(request, principal, trial, FormState(values={"format": "all"}))


def _export_args(values: dict[str, str]) -> dict[str, Any]:
    return {"fmt": values.get("format", "all"), "unblinded": values.get("unblinded") == "yes",
            "site_id": values.get("site_id") or None}


@router.post("/trials/{trial_id}/exports", response_class=HTMLResponse)
async def export_run(request: Request, trial_id: str, principal: PagePrincipal) -> Response:
    form = await posted(request)
    trial = visible_trial(request, principal, trial_id)
    _ = language(request).gettext
    try:
        bundle = _exports(request).export(principal, trial_id, **_export_args(form.values))
    except ServiceError as refused:
        form.error(_field_of(refused.message, ("format", "site_id", "unblinded", "arms"), "format")
                   .replace("arms", "unblinded"), _(refused.message))
        return _export_page(request, principal, trial, form, status=refused.status)
    return _export_page(request, principal, trial, form, manifest=bundle.manifest)


@router.get("/trials/{trial_id}/exports/download")
def export_download(request: Request, trial_id: str, principal: PagePrincipal, format: str = "all",
                    unblinded: str = "", site_id: str = "") -> Response:
    visible_trial(request, principal, trial_id)
    bundle = _exports(request).export(principal, trial_id, **_export_args(
        {"format": format, "unblinded": unblinded, "site_id": site_id}))
    name = f"{trial_id}-{format}-{bundle.manifest['exported_at'][:19].replace(':', '')}.zip"
    return Response(bundle.zip_bytes(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# --- database lock ---------------------------------------------------------------------------------------------

def _lock_service(request: Request) -> DatabaseLockService:
    return built_once(request, "web_database_lock", DatabaseLockService,
                      lambda c: DatabaseLockService(c.db, c.auth))


def _lock_page(request: Request, principal: Principal, trial: TrialView, form: FormState,
               status: int = 200) -> HTMLResponse:
    return render(request, "database_lock.html", principal=principal, trial_id=trial.id, trial_title=trial.title,
                  trial=trial, form=form, status=status)


@router.get("/trials/{trial_id}/database-lock", response_class=HTMLResponse)
def database_lock_page(request: Request, trial_id: str, principal: PagePrincipal) -> Response:
    trial = visible_trial(request, principal, trial_id)
    principal.require(Action.LOCK_DATABASE, trial_id)
    return _lock_page(request, principal, trial, FormState())


@router.post("/trials/{trial_id}/database-lock", response_class=HTMLResponse)
async def database_lock_submit(request: Request, trial_id: str, principal: PagePrincipal) -> Response:
    form = await posted(request)
    trial = visible_trial(request, principal, trial_id)
    _ = language(request).gettext
    service = _lock_service(request)
    step = service.unlock if form.values.get("step") == "unlock" else service.lock
    try:
        step(principal, trial_id, form.values.get("reason", ""), form.values.get("password") or None)
    except ServiceError as refused:
        form.error("password" if "password" in refused.message or "authentic" in refused.message else "reason",
                   _(refused.message))
        return _lock_page(request, principal, trial, form, status=refused.status)
    return RedirectResponse(f"/trials/{trial_id}/database-lock", status_code=303)


# --- randomization lists ---------------------------------------------------------------------------------------

@router.get("/trials/{trial_id}/lists", response_class=HTMLResponse)
def randomization_lists(request: Request, trial_id: str, principal: PagePrincipal) -> Response:
    trial = visible_trial(request, principal, trial_id)
    service = built_once(request, "web_lists", RandomizationListService,
                         lambda c: RandomizationListService(c.db, c.auth))
    lists = service.lists(principal, trial_id)
    return render(request, "randomization_lists.html", principal=principal, trial_id=trial_id,
                  trial_title=trial.title, trial=trial, lists=lists)
