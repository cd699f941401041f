"""Routes of single sign-on with OpenID Connect (ACC-4): start at the provider, come back with a session."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse

from equipoise.identity.oidc import STATE_SECONDS, OidcLogin, OidcSettings
from equipoise.server.deps import built_once, client_source
from equipoise.server.routes import ERRORS

router = APIRouter(responses=ERRORS)
COOKIE, COOKIE_PATH = "equipoise_oidc", "/api/auth/oidc"
Text = Annotated[str | None, Query(max_length=4000)]


async def oidc_service(request: Request) -> OidcLogin:
    # async: building it does no I/O (the provider is asked at the first sign-on)
    return built_once(request, "oidc", OidcLogin, lambda core: OidcLogin(core.db, core.auth, OidcSettings.from_env()))


Oidc = Annotated[OidcLogin, Depends(oidc_service)]


@router.get("/api/auth/oidc/login", tags=["auth"], response_class=RedirectResponse, status_code=302,
            responses={302: {"description": "To the identity provider's sign-on page."}})
def oidc_login(request: Request, svc: Oidc) -> RedirectResponse:
    """Single sign-on: redirects the browser to the hospital's identity provider (404 when not configured)."""
    url, binding = svc.start()
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(COOKIE, binding, max_age=STATE_SECONDS, path=COOKIE_PATH, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")
    return response


@router.get("/api/auth/oidc/callback", tags=["auth"])
def oidc_callback(request: Request, svc: Oidc, code: Text = None, state: Text = None, error: Text = None,
                  error_description: Text = None) -> JSONResponse:
    """Where the identity provider sends the browser back: a session token, as POST /api/auth/login gives."""
    refused = f"{error}: {error_description}" if error and error_description else error
    result = svc.finish(code, state, request.cookies.get(COOKIE), client_source(request), refused)
    body: dict[str, Any] = result.to_dict()
    response = JSONResponse(body)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response
