"""check_amendment: what an amendment would add, with amend_trial's own refusals, and nothing written (the
administrator's page shows it before activating)."""

from __future__ import annotations

import datetime as dt

import pytest

from equipoise.errors import ConflictError, InvalidError
from equipoise.identity.principal import system_principal
from equipoise.services.trials import amend_trial, check_amendment, create_trial_from_file, get_trial
from equipoise.store.db import Database
from tests.store.support import DEMO

TODAY = dt.date(2026, 12, 8)


def amended(effective: dt.date) -> str:
    return DEMO.read_text() + (
        f'\namendments:\n  - version: "1.1"\n    effective_date: {effective.isoformat()}\n    summary: Lyon.\n'
        "    changes:\n      - change: add-site\n        site: {id: lyon, name: Croix-Rousse, country: FR, "
        "timezone: Europe/Paris}\n")


def test_the_check_shows_the_new_amendment_and_writes_nothing(db: Database) -> None:
    operator = system_principal("test")
    trial = create_trial_from_file(db, operator, DEMO)
    added = check_amendment(db, operator, amended(TODAY), today=TODAY, expect_trial=trial.id)
    assert [(a.version, a.effective_date, a.changes[0].change) for a in added] == [("1.1", TODAY, "add-site")]
    with db.read() as s:
        assert get_trial(s, trial.id).protocol_sha256 == trial.protocol_sha256
    amend_trial(db, operator, amended(TODAY), "ethics approval", today=TODAY, expect_trial=trial.id)
    with pytest.raises(ConflictError, match="adds no amendment"):
        check_amendment(db, operator, amended(TODAY), today=TODAY, expect_trial=trial.id)


def test_the_check_refuses_what_amend_trial_refuses(db: Database) -> None:
    operator = system_principal("test")
    trial = create_trial_from_file(db, operator, DEMO)
    with pytest.raises(ConflictError, match="before today"):
        check_amendment(db, operator, amended(TODAY - dt.timedelta(days=1)), today=TODAY)
    with pytest.raises(InvalidError, match="not OTHER-TRIAL"):
        check_amendment(db, operator, amended(TODAY), today=TODAY, expect_trial="OTHER-TRIAL")
    assert trial.id
