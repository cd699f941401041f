"""Request dependencies: the services, and the authenticated principal behind a bearer token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Protocol, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from equipoise.errors import UnauthorizedError
from equipoise.identity.auth import AuthService
from equipoise.identity.principal import Principal
from equipoise.services.enrol_randomize import EnrolAndRandomizeService
from equipoise.services.patients import PatientService
from equipoise.services.randomization import RandomizationService
from equipoise.services.unblinding import UnblindingService
from equipoise.store.db import Database


@dataclass
class Services:
    db: Database
    auth: AuthService
    patients: PatientService
    randomization: RandomizationService
    unblinding: UnblindingService
    enrol_randomize: EnrolAndRandomizeService


def services(request: Request) -> Services:
    svc = request.app.state.services
    assert isinstance(svc, Services)
    return svc


T = TypeVar("T")


def built_once(request: Request, name: str, kind: type[T], build: Callable[[Services], T]) -> T:
    """A service of the routes of one area, built once per application over the core services (on app.state)."""
    existing = getattr(request.app.state, name, None)
    if isinstance(existing, kind):
        return existing
    built = build(services(request))
    setattr(request.app.state, name, built)
    return built


class AuditedService(Protocol):
    def __init__(self, db: Database, auth: AuthService) -> None: ...


S = TypeVar("S", bound=AuditedService)


def service_of(kind: type[S]) -> Callable[[Request], Awaitable[S]]:
    """A request dependency giving the application's one ``kind(db, auth)`` (built at its first request).

    async: building it does no I/O, and a plain ``def`` dependency would cost a hand-off to the thread pool."""

    async def dependency(request: Request) -> S:
        return built_once(request, kind.__name__, kind, lambda core: kind(core.db, core.auth))

    return dependency


async def services_dependency(request: Request) -> Services:
    # async: FastAPI runs a plain ``def`` dependency in the thread pool, a hand-off that costs more than this.
    return services(request)


def client_source(request: Request) -> str:
    host = request.client.host if request.client else "unknown"
    agent = request.headers.get("user-agent", "")[:120]
    return f"{host} {agent}".strip()


bearer = HTTPBearer(auto_error=False, description="A session token from POST /api/auth/login, or an API token.")


def principal(
    request: Request,
    svc: Annotated[Services, Depends(services_dependency)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise UnauthorizedError("log in first: send the header 'Authorization: Bearer <token>' "
                           "(get a token from POST /api/auth/login)")
    return svc.auth.authenticate(credentials.credentials, client_source(request))


SvcDep = Annotated[Services, Depends(services_dependency)]
UserDep = Annotated[Principal, Depends(principal)]
