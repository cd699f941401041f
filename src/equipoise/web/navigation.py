"""The navigation of the pages: which links each role sees, in a trial and outside one.

A helper adding a page for a role adds one ``NavItem`` here (its label is an English msgid, translated when the
page is drawn, so it must be in the catalogues too).
"""

from __future__ import annotations

from dataclasses import dataclass

from equipoise.identity.principal import Principal
from equipoise.identity.roles import Role


def N_(message: str) -> str:  # noqa: N802 (the gettext convention)
    """Marks a message for the catalogues; it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class NavItem:
    label: str  # an English msgid
    path: str  # may hold {trial_id}
    roles: frozenset[Role] | None  # None: everyone in the trial

    def href(self, trial_id: str | None) -> str | None:
        if "{trial_id}" in self.path:
            return self.path.format(trial_id=trial_id) if trial_id else None
        return self.path


SITE = frozenset({Role.COORDINATOR, Role.INVESTIGATOR})
TRIAL_NAV: list[NavItem] = [
    NavItem(N_("Trials"), "/trials", None),
    NavItem(N_("Trial home"), "/trials/{trial_id}", None),
    NavItem(N_("Site dashboard"), "/trials/{trial_id}/site", SITE),
    NavItem(N_("Enrol a patient"), "/trials/{trial_id}/enrol", SITE),
    NavItem(N_("Closed report"), "/trials/{trial_id}/reports/closed",
            frozenset({Role.DMC, Role.UNBLINDED_STATISTICIAN})),
    NavItem(N_("Open report"), "/trials/{trial_id}/reports/open",
            frozenset({Role.DMC, Role.UNBLINDED_STATISTICIAN, Role.BLINDED_STATISTICIAN, Role.MONITOR,
                       Role.ADMIN})),
    NavItem(N_("Evidence"), "/evidence", None),
    NavItem(N_("Queries"), "/trials/{trial_id}/queries", SITE | {Role.MONITOR}),
    NavItem(N_("Audit trail"), "/trials/{trial_id}/audit", frozenset({Role.MONITOR, Role.ADMIN,
                                                                      Role.UNBLINDED_STATISTICIAN})),
    NavItem(N_("Users and roles"), "/trials/{trial_id}/admin/users", frozenset({Role.ADMIN})),
    NavItem(N_("Amend the protocol"), "/trials/{trial_id}/admin/amend", frozenset({Role.ADMIN})),
    NavItem(N_("Verify the audit trail"), "/trials/{trial_id}/admin/audit-verify", frozenset({Role.ADMIN})),
    NavItem(N_("Exports"), "/trials/{trial_id}/exports", SITE | {Role.MONITOR, Role.BLINDED_STATISTICIAN,
                                                                 Role.UNBLINDED_STATISTICIAN, Role.DMC}),
    NavItem(N_("Database lock"), "/trials/{trial_id}/database-lock", frozenset({Role.MONITOR})),
    NavItem(N_("Randomization lists"), "/trials/{trial_id}/lists", frozenset({Role.UNBLINDED_STATISTICIAN})),
    NavItem(N_("Casebook locks"), "/trials/{trial_id}/monitor/locks", frozenset({Role.MONITOR})),
]
ACCOUNT_NAV: list[NavItem] = [
    NavItem(N_("Change password"), "/account/password", None),
]


def links(principal: Principal, trial_id: str | None) -> list[tuple[str, str]]:
    """(label msgid, href) of the links this principal sees on a page of ``trial_id`` (or of no trial)."""
    roles = principal.roles_in(trial_id) if trial_id else set()
    shown: list[tuple[str, str]] = []
    for item in TRIAL_NAV + ACCOUNT_NAV:
        href = item.href(trial_id)
        if href is None:
            continue
        if item.roles is not None and not (roles & item.roles):
            continue
        shown.append((item.label, href))
    return shown


ROLE_NAMES = {
    Role.ADMIN: N_("Administrator"),
    Role.COORDINATOR: N_("Site coordinator"),
    Role.INVESTIGATOR: N_("Investigator"),
    Role.MONITOR: N_("Monitor"),
    Role.BLINDED_STATISTICIAN: N_("Blinded statistician"),
    Role.UNBLINDED_STATISTICIAN: N_("Unblinded statistician"),
    Role.DMC: N_("Data monitoring committee"),
    Role.PHARMACOVIGILANCE: N_("Pharmacovigilance"),
}


def role_labels(principal: Principal, trial_id: str | None) -> list[str]:
    """The principal's roles (msgids) with their sites, in a trial or everywhere."""
    grants = [g for g in principal.grants if trial_id is None or g.trial_id in (None, trial_id)]
    return [ROLE_NAMES[g.role] + (f" · {g.site_id}" if g.site_id else "") for g in grants]
