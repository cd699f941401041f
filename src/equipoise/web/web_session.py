"""The browser's session: the token of an ordinary login (``AuthService``: the same session rows, lockout, idle
time-out and one-time codes as the API's bearer tokens) kept in an HttpOnly, SameSite=Strict cookie, and the
CSRF token every form posts back.

A signed-in form carries an HMAC of the session token (per session; the token itself never leaves the cookie);
a signed-out form (sign-in) carries a random value that must equal its own SameSite=Strict cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

from equipoise.errors import ForbiddenError, UnauthorizedError
from equipoise.identity.principal import Principal
from equipoise.web.core import client_source, core

SESSION_COOKIE = "equipoise_session"
ANONYMOUS_CSRF_COOKIE = "equipoise_csrf"
CSRF_FIELD = "csrf_token"


def secure(request: Request) -> bool:
    """Cookies are Secure when the page came over TLS (directly or from a proxy that says so)."""
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure(request), path="/")


def end_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def signed_in(request: Request) -> Principal:
    """The principal behind the session cookie (the service's refusal, e.g. the idle time-out, as it is)."""
    token = session_token(request)
    if token is None:
        raise UnauthorizedError("sign in first")
    return core(request).auth.authenticate(token, client_source(request))


def csrf_token(request: Request) -> str:
    """The value a form of this page must post back as ``csrf_token``."""
    token = session_token(request)
    if token is not None:
        return hmac.new(token.encode(), b"equipoise web form", hashlib.sha256).hexdigest()
    existing = request.cookies.get(ANONYMOUS_CSRF_COOKIE)
    if existing:
        return existing
    fresh: str = request.state.__dict__.setdefault("anonymous_csrf", secrets.token_urlsafe(32))
    return fresh


def keep_anonymous_csrf(request: Request, response: Response) -> None:
    """Set the signed-out CSRF cookie when this page made a new one."""
    fresh = request.state.__dict__.get("anonymous_csrf")
    if fresh and not request.cookies.get(ANONYMOUS_CSRF_COOKIE):
        response.set_cookie(ANONYMOUS_CSRF_COOKIE, fresh, httponly=True, samesite="strict", secure=secure(request),
                            path="/")


def check_csrf(request: Request, posted: str | None) -> None:
    expected = csrf_token(request) if (session_token(request) or request.cookies.get(ANONYMOUS_CSRF_COOKIE)) else None
    if not posted or expected is None or not hmac.compare_digest(posted, expected):
        raise ForbiddenError("this form has expired or did not come from this site: reload the page and try again")
