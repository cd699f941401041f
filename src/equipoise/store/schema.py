"""The whole schema: importing this module registers every table with ``Base``.

The core tables are in ``models.py``; the case report form, randomization list, further randomization and
delivery tables live in modules of their own. Whatever needs every table (the Alembic environment, the audit
trail's list of audited tables, ``audit verify``, backups) reads them here.
"""

from __future__ import annotations

from sqlalchemy import MetaData, Table

from equipoise.store import crf_models, delivery_models, list_models, models, part_models
from equipoise.store.base import Base

TABLE_MODULES = (models, crf_models, delivery_models, list_models, part_models)
metadata: MetaData = Base.metadata


def audited_models() -> list[type[Base]]:
    """Every table class with ``__audited__ = True``."""
    return [m.class_ for m in Base.registry.mappers if getattr(m.class_, "__audited__", False)]


def sorted_tables() -> list[Table]:
    """Every table, each after the tables its foreign keys point to."""
    return list(metadata.sorted_tables)
