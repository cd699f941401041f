"""The application's services as the pages see them (the server builds them once, on ``app.state.services``).

The pages do not import the server package (the server mounts the pages): this Protocol names what they use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar, cast

from fastapi import Request

from equipoise.identity.auth import AuthService
from equipoise.services.enrol_randomize import EnrolAndRandomizeService
from equipoise.services.patients import PatientService
from equipoise.services.randomization import RandomizationService
from equipoise.store.db import Database


class Core(Protocol):
    db: Database
    auth: AuthService
    patients: PatientService
    randomization: RandomizationService
    enrol_randomize: EnrolAndRandomizeService


def core(request: Request) -> Core:
    return cast(Core, request.app.state.services)


T = TypeVar("T")


def built_once(request: Request, name: str, kind: type[T], build: Callable[[Core], T]) -> T:
    """A service built once per application over the core services (kept on app.state, shared with the API's)."""
    existing = getattr(request.app.state, name, None)
    if isinstance(existing, kind):
        return existing
    built = build(core(request))
    setattr(request.app.state, name, built)
    return built


def client_source(request: Request) -> str:
    """Who is asking, for the audit trail: the address and the browser (as the API records it)."""
    host = request.client.host if request.client else "unknown"
    agent = request.headers.get("user-agent", "")[:120]
    return f"{host} {agent}".strip()
