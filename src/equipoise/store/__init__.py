"""The trial server's storage: schema, migrations, services (enrolment, randomization) and the audit chain.

Business rules live here, below the web layer, so the CLI, the API and the tests share them.

Extending it (case report forms, queries, signatures, exports):

- A new table: a model in ``models.py`` (or a new module imported by it) subclassing ``Base`` with an integer
  ``id`` primary key and ``__audited__ = True``, plus an Alembic revision after ``0001``. Every ORM insert,
  update and delete of it is then written to the audit chain in the same transaction, and ``audit verify``
  replays its history against the current rows with no further code (``verify.py`` is keyed by table and
  record id). ``__audit_secret__`` masks columns for blinded readers; ``__audit_digest__`` stores a digest.
- Who and why: open the transaction with ``db.write(principal.audit_context(reason=..., protocol_version=...))``;
  a reason for change is then on every entry of that transaction. ``audit.record_event`` logs an action
  that changes no row (an export, a signature check, a refused request).
- Permissions: add an ``Action`` and its roles to ``roles.PERMISSIONS``; services call
  ``principal.require(action, trial_id, site_id)`` and filter lists with ``principal.site_filter(...)``;
  arms are shown only when ``principal.sees_arms(...)``.
- Bulk ``update()``/``delete()`` statements on audited tables are refused: change rows through the ORM.
"""

from equipoise.store.db import Database, default_database_url

__all__ = ["Database", "default_database_url"]
