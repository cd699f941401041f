"""ACC-3: in one trial a person is blinded or unblinded, never both; across trials the roles are independent."""

from __future__ import annotations

import pytest

from equipoise.errors import InvalidError
from equipoise.identity.principal import system_principal
from equipoise.identity.roles import Role
from equipoise.services.trials import create_trial_from_file
from equipoise.services.users import add_user, grant_role, revoke_role
from equipoise.store.db import Database
from tests.store.support import DEMO, PASSWORD, PLATFORM

RCT, PLATFORM_ID = "MSC-COVID-RCT", "PANDEMIC-PLATFORM"


def test_a_person_is_blinded_or_unblinded_in_one_trial(db: Database):
    operator = system_principal("test")
    create_trial_from_file(db, operator, DEMO)
    create_trial_from_file(db, operator, PLATFORM)
    with pytest.raises(InvalidError, match="blinded or unblinded, not both"):
        add_user(db, operator, "mixed", "Mixed", PASSWORD,
                 roles=[(Role.INVESTIGATOR, RCT, "pumch"), (Role.DMC, RCT, None)])
    site_user = add_user(db, operator, "sam", "Sam", PASSWORD, roles=[(Role.COORDINATOR, RCT, "pumch")])
    with pytest.raises(InvalidError, match="already holds the blinded role site-coordinator"):
        grant_role(db, operator, "sam", Role.UNBLINDED_STATISTICIAN, RCT, None)
    # The unblinded side of another trial is fine, and so is another blinded role in this one.
    grant_role(db, operator, "sam", Role.UNBLINDED_STATISTICIAN, PLATFORM_ID, None)
    grant_role(db, operator, "sam", Role.MONITOR, RCT, None)
    statistician = add_user(db, operator, "una", "Una", PASSWORD,
                            roles=[(Role.UNBLINDED_STATISTICIAN, RCT, None), (Role.DMC, RCT, None)])
    with pytest.raises(InvalidError, match="already holds the unblinded role"):
        grant_role(db, operator, "una", Role.BLINDED_STATISTICIAN, RCT, None)
    # Changing sides: revoke first (audited), then grant.
    for role in statistician.roles:
        revoke_role(db, operator, role.id, "moves to the blinded team")
    after = grant_role(db, operator, "una", Role.BLINDED_STATISTICIAN, RCT, None)
    assert [(r.role, r.active) for r in after.roles][-1] == ("blinded-statistician", True)
    assert site_user.roles[0].role == "site-coordinator"


def test_an_allow_list_limits_who_may_be_unblinded(db: Database, monkeypatch: pytest.MonkeyPatch):
    operator = system_principal("test")
    create_trial_from_file(db, operator, DEMO)
    monkeypatch.setenv("EQUIPOISE_UNBLINDED_USERS", "una, dora")
    with pytest.raises(InvalidError, match="not on this installation's list"):
        add_user(db, operator, "eve", "Eve", PASSWORD, roles=[(Role.DMC, RCT, None)])
    add_user(db, operator, "una", "Una", PASSWORD, roles=[(Role.UNBLINDED_STATISTICIAN, RCT, None)])
    add_user(db, operator, "bob", "Bob", PASSWORD, roles=[(Role.MONITOR, RCT, None)])  # blinded roles: anyone
    add_user(db, operator, "dora", "Dora", PASSWORD)
    assert grant_role(db, operator, "dora", Role.DMC, RCT, None).roles[-1].role == "dmc"
    with pytest.raises(InvalidError, match="not on this installation's list"):
        grant_role(db, operator, "bob", Role.DMC, PLATFORM_ID, None)
