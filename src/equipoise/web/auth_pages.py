"""Pages everyone uses: sign in (password, one-time code, single sign-on), sign out, change password, the
language switch."""

from __future__ import annotations

import contextlib
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from equipoise.errors import ServiceError, UnauthorizedError
from equipoise.identity.oidc import STATE_SECONDS, OidcLogin, OidcSettings
from equipoise.web.core import Core, built_once, client_source, core
from equipoise.web.forms import FormState, posted
from equipoise.web.i18n import LANGUAGE_COOKIE, LANGUAGES
from equipoise.web.pages import language, render
from equipoise.web.vocabulary import IDLE_NOTICE
from equipoise.web.web_session import end_session_cookie, secure, set_session_cookie, signed_in

router = APIRouter(include_in_schema=False)
Svc = Annotated[Core, Depends(core)]
SSO_COOKIE, SSO_PATH = "equipoise_web_oidc", "/sign-in/sso"
# How the service says a one-time code is missing (AuthService._check_code): the page then asks for it.
_CODE_NEEDED = "this account uses two-factor login"


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never another host) is followed after signing in."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return "/trials"
    return target


def _oidc(request: Request) -> OidcLogin:
    return built_once(request, "oidc", OidcLogin, lambda core: OidcLogin(core.db, core.auth, OidcSettings.from_env()))


def sign_in_page(request: Request, form: FormState | None = None, *, status: int = 200, notice: str | None = None,
                 ask_code: bool = False, next_path: str | None = None) -> HTMLResponse:
    if notice is not None and notice.startswith("logged out after"):
        notice = language(request).gettext(IDLE_NOTICE, minutes=core(request).auth.settings.idle_timeout_seconds // 60)
    if next_path is None and request.method == "GET" and request.url.path != "/":
        next_path = request.url.path  # a page that needed a session comes back after signing in
    return render(request, "sign_in.html", status=status, form=form or FormState(), notice=notice,
                  ask_code=ask_code, next_path=_safe_next(next_path), sso=OidcSettings.from_env() is not None,
                  settings=core(request).auth.settings,
                  signed_out=request.query_params.get("signed_out") == "1")


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    try:
        signed_in(request)
    except ServiceError:
        return sign_in_page(request, next_path=request.query_params.get("next"))
    return RedirectResponse("/trials", status_code=303)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request, svc: Svc) -> Response:
    form = await posted(request)
    _ = language(request).gettext
    username, password = form.values.get("username", "").strip(), form.values.get("password", "")
    code = form.values.get("code", "").strip() or None
    next_path = form.values.get("next")
    if not username:
        form.error("username", _("Enter your username."))
    if not password:
        form.error("password", _("Enter your password."))
    if not form.ok:
        return sign_in_page(request, form, status=422, next_path=next_path, ask_code=code is not None)
    try:
        result = svc.auth.login(username, password, client_source(request), code)
    except ServiceError as refused:
        ask_code = code is not None or refused.message.startswith(_CODE_NEEDED)
        if refused.message.startswith(_CODE_NEEDED):
            form.error("code", _("This account uses two-factor login: enter the 6-digit code from your "
                                 "authenticator app, and your password again."))
        elif "one-time code" in refused.message:
            form.error("code", _(refused.message))
        else:
            form.error("password", _(refused.message))
        form.values.pop("password", None)
        return sign_in_page(request, form, status=refused.status, next_path=next_path, ask_code=ask_code)
    response = RedirectResponse(_safe_next(next_path), status_code=303)
    set_session_cookie(request, response, result.token)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, svc: Svc) -> Response:
    await posted(request)
    # already ended (idle time-out, another tab): signing out again is no error
    with contextlib.suppress(UnauthorizedError):
        svc.auth.logout(signed_in(request))
    response = RedirectResponse("/?signed_out=1", status_code=303)
    end_session_cookie(response)
    return response


@router.post("/language")
async def switch_language(request: Request) -> Response:
    form = await posted(request)
    chosen = form.values.get("language", "")
    response = RedirectResponse(_safe_next(form.values.get("next")), status_code=303)
    if chosen in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="strict",
                            secure=secure(request), path="/")
    return response


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request) -> Response:
    try:
        principal = signed_in(request)
    except ServiceError as refused:
        return sign_in_page(request, notice=refused.message, status=401)
    return render(request, "change_password.html", principal=principal, form=FormState())


@router.post("/account/password", response_class=HTMLResponse)
async def change_password(request: Request, svc: Svc) -> Response:
    form = await posted(request)
    _ = language(request).gettext
    try:
        principal = signed_in(request)
    except ServiceError as refused:
        return sign_in_page(request, notice=refused.message, status=401)
    old, new, again = (form.values.get(k, "") for k in ("old_password", "new_password", "new_password_again"))
    if new != again:
        form.error("new_password_again", _("The two new passwords differ."))
    if form.ok:
        try:
            svc.auth.change_password(principal, old, new)
        except ServiceError as refused:
            target = "new_password" if "password needs" in refused.message else "old_password"
            form.error(target, _(refused.message))
    form.values = {}
    if not form.ok:
        return render(request, "change_password.html", principal=principal, form=form, status=422)
    return render(request, "change_password.html", principal=principal, form=form, changed=True)


@router.get("/sign-in/sso")
def sso_start(request: Request) -> Response:
    """Single sign-on: to the identity provider; it sends the browser back to /sign-in/sso/callback (the
    redirect URI registered for the web pages, EQUIPOISE_OIDC_REDIRECT_URI)."""
    try:
        url, binding = _oidc(request).start()
    except ServiceError as refused:
        return sign_in_page(request, notice=refused.message, status=refused.status)
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(SSO_COOKIE, binding, max_age=STATE_SECONDS, path=SSO_PATH, httponly=True, samesite="lax",
                        secure=secure(request))
    return response


Text = Annotated[str | None, Query(max_length=4000)]


@router.get("/sign-in/sso/callback")
def sso_callback(request: Request, code: Text = None, state: Text = None, error: Text = None) -> Response:
    try:
        result = _oidc(request).finish(code, state, request.cookies.get(SSO_COOKIE), client_source(request), error)
    except ServiceError as refused:
        return sign_in_page(request, notice=refused.message, status=refused.status)
    response = RedirectResponse("/trials", status_code=303)
    response.delete_cookie(SSO_COOKIE, path=SSO_PATH)
    set_session_cookie(request, response, result.token)
    return response
