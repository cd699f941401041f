"""The trial server's database: schema, migrations, sessions, core row writes and the audit chain.

Business rules are not here: they are in ``equipoise.services`` (the trial's operations) and
``equipoise.identity`` (who may do what). This package only keeps rows and their history.

- A new table: a model in ``models.py`` (or a ``*_models.py`` module that ``schema.py`` imports) subclassing
  ``Base`` (``base.py``) with an integer ``id`` primary key and ``__audited__ = True``, plus an Alembic revision
  in ``migrations/versions``.
  Every ORM insert, update and delete of it is then written to the audit chain in the same transaction, and
  ``audit verify`` (``equipoise.integrity.audit_verify``) replays its history against the current rows with no
  further code. ``__audit_secret__`` masks columns for blinded readers; ``__audit_digest__`` stores a digest.
- Who and why: a service opens the transaction with ``db.write(principal.audit_context(reason=...,
  protocol_version=...))``; a reason for change is then on every entry of that transaction.
  ``audit.record_event`` logs an action that changes no row (an export, a signature check, a refused request).
- Bulk ``update()``/``delete()`` statements on audited tables are refused: change rows through the ORM.
"""

from equipoise.store.db import Database, default_database_url

__all__ = ["Database", "default_database_url"]
