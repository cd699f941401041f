"""An export of a few tables (what the analyses and reports read, issue 18): only those files, the same bytes as
in the whole export, audited like any export, and never the audit trail."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from equipoise.analyze.server_export import input_tables
from equipoise.errors import InvalidError
from equipoise.exports import ExportService
from equipoise.identity.principal import system_principal
from equipoise.services.trials import get_trial, protocol_of
from equipoise.store.models import AuditEntry
from tests.forms.conftest import World
from tests.forms.test_exports import Filled, filled

__all__ = ["filled"]  # the fixture, shared with test_exports.py


def test_a_selection_of_tables_is_those_files_only_and_the_same_bytes(world: World, filled: Filled) -> None:
    service = ExportService(world.db)
    operator = system_principal("test")
    with world.db.read() as s:
        wanted = input_tables(protocol_of(get_trial(s, filled.trial.id)))
    whole = service.export(operator, filled.trial.id, fmt="csv", unblinded=True)
    few = service.export(operator, filled.trial.id, fmt="csv", unblinded=True, tables=wanted, purpose="a test")
    assert set(few.files) == {f"{t}.csv" for t in wanted} | {"manifest.json"}
    assert "audit_log.csv" in whole.files
    assert "audit_trail.csv" in whole.files
    for name in few.files.keys() - {"manifest.json"}:
        assert few.files[name] == whole.files[name], name
    with world.db.read() as s:
        last = s.scalars(select(AuditEntry).where(AuditEntry.action == "export").order_by(AuditEntry.id.desc())
                         .limit(1)).one()
    assert last.new_values is not None
    assert set(last.new_values["files"]) == {f"{t}.csv" for t in wanted}
    assert last.new_values["purpose"] == "a test"
    with pytest.raises(InvalidError, match="CSV only"):
        service.export(operator, filled.trial.id, fmt="parquet", tables=wanted)
