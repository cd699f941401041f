"""Who is asking: a user and the roles they hold, and the permission checks the services make."""

from __future__ import annotations

from dataclasses import dataclass

from equipoise.errors import ForbiddenError
from equipoise.identity.roles import PERMISSIONS, Action, Role
from equipoise.store.audit import AuditContext


@dataclass(frozen=True)
class Grant:
    role: Role
    trial_id: str | None  # None: system-wide (admin)
    site_id: str | None  # None: every site of the trial


@dataclass(frozen=True)
class Principal:
    user_id: int | None
    username: str
    full_name: str = ""
    grants: tuple[Grant, ...] = ()
    source: str | None = None
    session_id: int | None = None
    system: bool = False  # the local CLI acting as the operator of this installation

    def roles_in(self, trial_id: str | None) -> set[Role]:
        return {g.role for g in self.grants if g.trial_id is None or g.trial_id == trial_id}

    @property
    def is_admin(self) -> bool:
        return self.system or any(g.role is Role.ADMIN for g in self.grants)

    def grants_for(self, action: Action, trial_id: str | None) -> list[Grant]:
        allowed = PERMISSIONS[action]
        return [g for g in self.grants if g.role in allowed and (g.trial_id is None or g.trial_id == trial_id)]

    def can(self, action: Action, trial_id: str | None, site_id: str | None = None) -> bool:
        if self.system:
            return True
        for grant in self.grants_for(action, trial_id):
            if site_id is None or grant.site_id is None or grant.site_id == site_id:
                return True
        return False

    def require(self, action: Action, trial_id: str | None, site_id: str | None = None) -> None:
        if not self.can(action, trial_id, site_id):
            where = f" at site {site_id}" if site_id else ""
            raise ForbiddenError(f"your role does not allow {action.value}{where}")

    def site_filter(self, action: Action, trial_id: str) -> set[str] | None:
        """Sites this principal may act on for ``action`` (None: every site)."""
        if self.system:
            return None
        grants = self.grants_for(action, trial_id)
        if any(g.site_id is None for g in grants):
            return None
        return {g.site_id for g in grants if g.site_id is not None}

    def sees_arms(self, trial_id: str, blinded: bool, unblinded_at: object | None) -> bool:
        """Open-label trials and trials past planned unblinding show arms to everyone in them."""
        if not blinded or unblinded_at is not None:
            return True
        return any(g.role.unblinded for g in self.grants if g.trial_id == trial_id)

    def audit_context(self, reason: str | None = None, protocol_version: str | None = None) -> AuditContext:
        return AuditContext(actor=self.username, actor_id=self.user_id, source=self.source, reason=reason,
                            protocol_version=protocol_version, actor_name=self.full_name or None)


def system_principal(source: str = "cli") -> Principal:
    """The operator at the server's own command line (``equipoise trial create``, ``user add``)."""
    return Principal(user_id=None, username="system", full_name="Local operator", source=source, system=True)
