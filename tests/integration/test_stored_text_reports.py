"""The committee's report and the protocol's analyses run on a trial whose database holds text the policy now
refuses (issue 14): one form's 1 MB value with a bare ``\\r`` and ``\\x01`` made ``report dmc --trial``,
``report open --trial``, ``analyze protocol --trial`` and ``analyze interim --trial`` fail for the whole trial."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from equipoise.store.audit import AuditContext
from equipoise.store.crf_models import FormRecord
from equipoise.store.db import Database
from tests.integration.conftest import TRIAL, Demo, cli

NASTY = ["x" * 1_000_000 + "\r\x01", "=cmd|' /C calc'!A0", "line\rbreak", "\x07bell", "-2"]


def test_reports_and_analyses_run_on_any_stored_text(populated: Demo, tmp_path: Path):
    url = populated.copy(tmp_path / "db")
    database = Database(url)
    with database.write(AuditContext(actor="older-version", reason="\r\x01 old reason")) as s:
        records = s.scalars(select(FormRecord).where(FormRecord.trial_id == TRIAL,
                                                     FormRecord.form_id.in_(("infusion", "adverse_event")))).all()
        assert records
        for n, record in enumerate(records):
            key = "kit_code" if record.form_id == "infusion" else "description"
            record.field_values = {**record.field_values, key: NASTY[n % len(NASTY)]}
    database.dispose()
    for args in (("analyze", "protocol", "--trial", TRIAL, "--db", url),
                 ("analyze", "interim", "--trial", TRIAL, "--db", url),
                 ("report", "dmc", "--trial", TRIAL, "--db", url, "--output", tmp_path / "dmc.html"),
                 ("report", "open", "--trial", TRIAL, "--db", url, "--output", tmp_path / "open.html"),
                 ("export", "all", TRIAL, "--db", url, "--output", tmp_path / "all", "--unblinded")):
        result = cli(*args)
        assert result.code == 0, f"{' '.join(map(str, args[:2]))}: {result.stderr}"
    html = (tmp_path / "dmc.html").read_text()
    assert "Randomised" in html
    assert not any(c in html for c in "\x01\x07")
