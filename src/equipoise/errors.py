"""The exceptions that mean "the user asked for something wrong".

``UserError`` is a bad file, option or value: the CLI turns it into a one-line message and exit code 2. The
``ServiceError`` family are the services' refusals of a request; each maps to one HTTP status and a one-line
message. Anything else is a bug in Equipoise.
"""

from __future__ import annotations

from typing import Any


class UserError(Exception):
    """Bad input from a person: a file, an option or a value. The message is shown as it is."""


class ServiceError(UserError):
    status = 400

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class UnauthorizedError(ServiceError):
    status = 401


class ForbiddenError(ServiceError):
    status = 403


class NotFoundError(ServiceError):
    status = 404


class ConflictError(ServiceError):
    status = 409


class InvalidError(ServiceError):
    status = 422


class DatabaseLockedError(ServiceError):
    """423 Locked: the trial's database is locked (EDC-3); nothing is entered until it is unlocked with a reason."""

    status = 423



class AccountLockedError(ServiceError):
    status = 423


class IdempotencyKeyReusedError(InvalidError):
    """422: an Idempotency-Key sent again with a different request (IETF draft-ietf-httpapi-idempotency-key-header
    §2.7: "the server ... should respond with 422 Unprocessable Content" when a key is reused with a different
    payload). Answering it as a replay of the first request silently dropped the second one."""

    def __init__(self, fields: list[str], what: str) -> None:
        super().__init__(f"this Idempotency-Key was already used for a different request ({', '.join(fields)} "
                         f"differ): a retry must send the same request; {what} needs a new key",
                         {"conflict": "idempotency-key-reused", "fields": fields})
