"""The FastAPI application: routes are thin; every rule lives in ``equipoise.store``."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from equipoise import __version__
from equipoise.errors import ServiceError, UserError
from equipoise.identity.auth import AuthService
from equipoise.identity.security_settings import Settings
from equipoise.integrity.scheduled_verify import verify_and_record
from equipoise.server.deps import Services
from equipoise.server.docs_pages import add_offline_docs
from equipoise.server.envelope_routes import router as envelope_router
from equipoise.server.flag_routes import router as flag_router
from equipoise.server.form_routes import router as form_router
from equipoise.server.list_routes import router as list_router
from equipoise.server.oidc_routes import router as oidc_router
from equipoise.server.part_routes import router as part_router
from equipoise.server.routes import router
from equipoise.server.tls import TLS_CERT_ENV, StrictTransportSecurity
from equipoise.server.unblinding_routes import router as unblinding_router
from equipoise.services.enrol_randomize import EnrolAndRandomizeService
from equipoise.services.notification_delivery import deliver_pending
from equipoise.services.patients import PatientService
from equipoise.services.randomization import RandomizationService
from equipoise.services.unblinding import UnblindingService
from equipoise.store.db import Database
from equipoise.web import mount_web

log = logging.getLogger("equipoise.server")


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "request"


THREADS_ENV = "EQUIPOISE_THREADS"
DEFAULT_THREADS = 8


def request_threads() -> int:
    """Requests one server process works on at once ($EQUIPOISE_THREADS, default 8; the rest wait in line).

    Each process runs its (blocking) routes in a thread pool, 40 threads by default. Under load those threads
    mostly take turns at one interpreter lock and one database write lock, and whichever wins is luck: a few
    requests lose many times (server_load benchmark, 64 clients: p99 1.9 s with 40 threads, 1.2 s with 6, at a
    higher rate). A small pool makes the rest queue first come, first served.
    """
    try:
        return max(1, int(os.environ.get(THREADS_ENV, DEFAULT_THREADS)))
    except ValueError:
        return DEFAULT_THREADS


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    anyio.to_thread.current_default_thread_limiter().total_tokens = request_threads()
    services: Services = app.state.services
    interval = services.auth.settings.verify_interval_seconds
    async with anyio.create_task_group() as tasks:
        if interval > 0:
            tasks.start_soon(_verify_on_schedule, services.db, interval)
        settings = services.auth.settings
        if settings.notify_url:
            tasks.start_soon(_deliver_notifications, services.db, settings.notify_url, settings.notify_secret,
                             settings.notify_interval_seconds)
        yield
        tasks.cancel_scope.cancel()


async def _deliver_notifications(db: Database, url: str, secret: str, interval: float) -> None:
    """UNB-1: POST new notifications to the configured receiver, retrying those that failed."""
    while True:
        try:
            report = await anyio.to_thread.run_sync(lambda: deliver_pending(db, url, secret))
            for notification_id, why in report.failed.items():
                log.warning("notification %d not delivered: %s", notification_id, why)
        except Exception as exc:  # a database that is down now may be back at the next round
            log.error("notification delivery could not run: %s", type(exc).__name__)
        await anyio.sleep(max(interval, 1))


async def _verify_on_schedule(db: Database, interval: float) -> None:
    """AUD-8: verify the audit trail every ``interval`` seconds, in a worker thread (it reads the whole trail)."""
    while True:
        await anyio.sleep(interval)
        try:
            await anyio.to_thread.run_sync(verify_and_record, db, interval)
        except Exception as exc:  # a database that is down now may be back at the next interval
            log.error("scheduled audit verification could not run: %s", type(exc).__name__)


def create_app(db: Database | None = None, settings: Settings | None = None) -> FastAPI:
    # A pooled connection for every request thread (and the group commit's and the scheduled verification's), so
    # none is opened per request; a small overflow keeps each process at most request threads + 4 PostgreSQL
    # connections (8 processes with 8 threads: 96, under PostgreSQL's default max_connections of 100).
    database = db or Database(pool_size=request_threads() + 2, max_overflow=2)
    auth = AuthService(database, settings)
    app = FastAPI(
        lifespan=_lifespan,
        title="Equipoise trial server",
        version=__version__,
        # the docs pages render the description as Markdown: the header is a code span so <token> is not a tag
        description="Enrolment with server-side eligibility, concealed randomization, unblinding and an "
        "append-only, hash-chained audit trail. Authenticate with POST /api/auth/login and send "
        "`Authorization: Bearer <token>`.",
        docs_url=None,  # served from local assets by add_offline_docs, never from a CDN
        redoc_url=None,
    )
    add_offline_docs(app)
    if os.environ.get(TLS_CERT_ENV):
        app.add_middleware(StrictTransportSecurity)
    patients, randomization = PatientService(database), RandomizationService(database)
    app.state.services = Services(database, auth, patients, randomization, UnblindingService(database, auth),
                                  EnrolAndRandomizeService(database, patients, randomization))

    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"detail": exc.message, **exc.details}, status_code=exc.status, headers=headers)

    @app.exception_handler(UserError)
    async def _user_error(_request: Request, exc: UserError) -> JSONResponse:
        return JSONResponse({"detail": str(exc).splitlines()[0] if str(exc) else "bad request",
                             "problems": str(exc).splitlines()}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [f"{_location(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}" for e in exc.errors()]
        return JSONResponse({"detail": errors[0] if errors else "invalid request", "errors": errors},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and detail == "Not Found":
            detail = "no such endpoint (see /docs or /openapi.json)"
        if exc.status_code == 405:
            detail = "this endpoint does not accept that method (see /openapi.json)"
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _internal(_request: Request, exc: Exception) -> JSONResponse:
        # Log the type only: a message could carry a value, and secrets never reach the logs.
        log.error("internal error: %s", type(exc).__name__)
        return JSONResponse({"detail": "internal error (this is a bug in Equipoise)"}, status_code=500)

    app.include_router(router)
    app.include_router(form_router)
    app.include_router(unblinding_router)
    app.include_router(list_router)
    app.include_router(envelope_router)
    app.include_router(flag_router)
    app.include_router(part_router)
    app.include_router(oidc_router)
    mount_web(app)  # the HTML pages (equipoise/web), after the API's routes and error handlers
    return app
