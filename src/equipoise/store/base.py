"""The declarative base every table of the trial server's database subclasses.

``__audited__ = True`` writes every ORM insert, update and delete of the table to the audit trail (see
``equipoise.store.audit``); columns in ``__audit_digest__`` are written as a SHA-256 digest; columns in
``__audit_secret__`` reveal the allocation and are masked when the trail is shown to a blinded role.
"""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    __audited__: ClassVar[bool] = False
    __audit_digest__: ClassVar[frozenset[str]] = frozenset()
    __audit_secret__: ClassVar[frozenset[str]] = frozenset()
