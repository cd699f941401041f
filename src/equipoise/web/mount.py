"""Puts the web pages on the FastAPI application: their routers, /static, and HTML error pages for page requests
(the JSON API's errors stay as they are)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from equipoise.errors import NotFoundError, ServiceError, UnauthorizedError
from equipoise.identity.principal import Principal
from equipoise.web.access import SignInNeededError
from equipoise.web.admin_pages import router as admin_router
from equipoise.web.auth_pages import router as auth_router
from equipoise.web.auth_pages import sign_in_page
from equipoise.web.crf_pages import router as crf_router
from equipoise.web.dmc_pages import router as dmc_router
from equipoise.web.evidence_pages import router as evidence_router
from equipoise.web.monitor_pages import router as monitor_router
from equipoise.web.pages import error_page, wants_html
from equipoise.web.patient_actions import router as patient_actions_router
from equipoise.web.patient_pages import router as patient_router
from equipoise.web.site_pages import router as site_router
from equipoise.web.story_pages import router as story_router
from equipoise.web.trial_pages import router as trial_router
from equipoise.web.web_session import signed_in

Handler = Callable[[Request, Exception], Awaitable[Response]]
STATIC = Path(__file__).resolve().parent / "static"
ROUTERS = [auth_router, trial_router, site_router, patient_router, crf_router, patient_actions_router, story_router,
           dmc_router, evidence_router, monitor_router, admin_router]


def _principal_or_none(request: Request) -> Principal | None:
    try:
        return signed_in(request)
    except ServiceError:
        return None


def mount_web(app: FastAPI) -> None:
    """Add the pages; call after the API's own exception handlers are registered (they are kept for the API)."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)
    json_service_error = cast(Handler, app.exception_handlers[ServiceError])
    json_http_error = cast(Handler, app.exception_handlers[StarletteHTTPException])

    async def service_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, ServiceError) and wants_html(request):
            if isinstance(exc, UnauthorizedError):
                return sign_in_page(request, notice=exc.message, status=401)
            principal = _principal_or_none(request)
            trial_id = request.path_params.get("trial_id")
            shown_trial = trial_id if principal is not None and not isinstance(exc, NotFoundError) else None
            return error_page(request, exc, principal, trial_id=shown_trial)
        return await json_service_error(request, exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, StarletteHTTPException) and exc.status_code == 404 and wants_html(request):
            return error_page(request, NotFoundError("there is no such page"))
        return await json_http_error(request, exc)

    async def sign_in_needed(request: Request, exc: Exception) -> Response:
        return sign_in_page(request, notice=exc.message if isinstance(exc, SignInNeededError) else None, status=401)

    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(SignInNeededError, sign_in_needed)
