"""Who is asking for a page: the principal behind the session cookie, or the sign-in page (with the service's
reason: the idle time-out, an ended or expired session) when there is none."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from equipoise.errors import ServiceError, UnauthorizedError
from equipoise.identity.principal import Principal
from equipoise.web.web_session import session_token, signed_in


class SignInNeededError(Exception):
    """Raised by ``page_principal``; drawn as the sign-in page with ``message`` (see ``mount.py``)."""

    def __init__(self, message: str | None) -> None:
        super().__init__(message or "")
        self.message = message


def page_principal(request: Request) -> Principal:
    if session_token(request) is None:
        raise SignInNeededError(None)
    try:
        return signed_in(request)
    except UnauthorizedError as refused:
        raise SignInNeededError(refused.message) from None
    except ServiceError as refused:
        raise SignInNeededError(refused.message) from None


PagePrincipal = Annotated[Principal, Depends(page_principal)]
