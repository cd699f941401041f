"""Roles and what each may do: the one permission table the API, the CLI and the tests read.

Site-scoped roles (coordinator, investigator) act only on patients of their own sites (REDCap C.3.30.0600
"DAG users randomize only within their DAG"; clinicedc's site-scoped managers). Blinded roles never see an
arm, a kit-to-arm mapping, a random draw or an allocation state (REDCap C.3.30.1500; RND-8, RND-13).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    COORDINATOR = "site-coordinator"
    INVESTIGATOR = "investigator"
    MONITOR = "monitor"
    BLINDED_STATISTICIAN = "blinded-statistician"
    UNBLINDED_STATISTICIAN = "unblinded-statistician"
    DMC = "dmc"
    # The sponsor's safety team: told of every unblinding, asks for one when a SUSAR must be reported; blinded.
    PHARMACOVIGILANCE = "pharmacovigilance"

    @property
    def site_scoped(self) -> bool:
        return self in (Role.COORDINATOR, Role.INVESTIGATOR)

    @property
    def unblinded(self) -> bool:
        """Roles that see allocations in a blinded trial (planned unblinding is theirs only)."""
        return self in (Role.UNBLINDED_STATISTICIAN, Role.DMC)


class Action(StrEnum):
    MANAGE_USERS = "manage-users"
    CREATE_TRIAL = "create-trial"
    VIEW_TRIAL = "view-trial"
    ENROL = "enrol"
    CORRECT_ENROLMENT = "correct-enrolment"
    RANDOMIZE = "randomize"
    VIEW_PATIENTS = "view-patients"
    VIEW_ARMS = "view-arms"  # in a blinded trial; everyone in the trial sees arms of an open-label one
    EMERGENCY_UNBLIND = "emergency-unblind"
    PLANNED_UNBLIND = "planned-unblind"
    REQUEST_UNBLINDING = "request-unblinding"
    REVIEW_UNBLINDING = "review-unblinding"
    MANAGE_LISTS = "manage-lists"
    LOCK_DATABASE = "lock-database"
    FLAG_ALLOCATION = "flag-allocation"
    PUBLISH_ADAPTIVE = "publish-adaptive"
    VIEW_ADAPTIVE = "view-adaptive"
    VIEW_NOTIFICATIONS = "view-notifications"
    VIEW_AGGREGATES = "view-aggregates"
    VIEW_AUDIT = "view-audit"
    VIEW_DISCREPANCIES = "view-discrepancies"
    REPLAY = "replay"
    # case report forms, queries, locks, signatures, exports
    VIEW_FORMS = "view-forms"
    ENTER_DATA = "enter-data"
    RAISE_QUERY = "raise-query"
    ANSWER_QUERY = "answer-query"
    CLOSE_QUERY = "close-query"
    VIEW_QUERIES = "view-queries"
    LOCK = "lock"
    UNLOCK = "unlock"
    SIGN = "sign"
    EXPORT = "export"


R = Role
PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.MANAGE_USERS: frozenset({R.ADMIN}),
    Action.CREATE_TRIAL: frozenset({R.ADMIN}),
    Action.VIEW_TRIAL: frozenset(Role),
    Action.ENROL: frozenset({R.COORDINATOR, R.INVESTIGATOR}),
    Action.CORRECT_ENROLMENT: frozenset({R.COORDINATOR, R.INVESTIGATOR}),
    Action.RANDOMIZE: frozenset({R.COORDINATOR, R.INVESTIGATOR}),
    Action.VIEW_PATIENTS: frozenset({R.COORDINATOR, R.INVESTIGATOR, R.MONITOR, R.BLINDED_STATISTICIAN,
                                     R.UNBLINDED_STATISTICIAN, R.DMC}),
    Action.VIEW_ARMS: frozenset({R.UNBLINDED_STATISTICIAN, R.DMC}),
    # ICH E6(R3) §3 / EMA-CTFG: the investigator unblinds one patient at once, without sponsor approval.
    Action.EMERGENCY_UNBLIND: frozenset({R.INVESTIGATOR}),
    Action.PLANNED_UNBLIND: frozenset({R.UNBLINDED_STATISTICIAN}),
    # UNB-2 (clinicedc edc_unblinding; E6(R3) p. 40): outside an emergency the investigator asks, and an
    # unblinded reviewer approves or rejects; only the requester is shown the arm.
    Action.REQUEST_UNBLINDING: frozenset({R.INVESTIGATOR, R.PHARMACOVIGILANCE}),
    Action.REVIEW_UNBLINDING: frozenset({R.UNBLINDED_STATISTICIAN}),
    # RND-8: the allocation sequence itself; uploaded, read and downloaded by the unblinded statistician only.
    Action.MANAGE_LISTS: frozenset({R.UNBLINDED_STATISTICIAN}),
    Action.PUBLISH_ADAPTIVE: frozenset({R.UNBLINDED_STATISTICIAN}),
    Action.VIEW_ADAPTIVE: frozenset({R.UNBLINDED_STATISTICIAN, R.DMC}),
    # UNB-1: the sponsor and pharmacovigilance are told after an emergency unblinding (the notices carry kit codes
    # and patient codes, never an arm).
    Action.VIEW_NOTIFICATIONS: frozenset({R.UNBLINDED_STATISTICIAN, R.DMC, R.PHARMACOVIGILANCE}),
    Action.VIEW_AGGREGATES: frozenset({R.UNBLINDED_STATISTICIAN, R.DMC}),
    Action.VIEW_AUDIT: frozenset({R.ADMIN, R.MONITOR, R.UNBLINDED_STATISTICIAN}),
    Action.VIEW_DISCREPANCIES: frozenset({R.COORDINATOR, R.INVESTIGATOR, R.MONITOR}),
    Action.REPLAY: frozenset({R.ADMIN, R.UNBLINDED_STATISTICIAN}),
    Action.VIEW_FORMS: frozenset({R.COORDINATOR, R.INVESTIGATOR, R.MONITOR, R.BLINDED_STATISTICIAN,
                                  R.UNBLINDED_STATISTICIAN, R.DMC}),
    Action.ENTER_DATA: frozenset({R.COORDINATOR, R.INVESTIGATOR}),
    # The monitor raises and closes queries; the site answers them (REDCap DRW, OpenClinica discrepancy notes).
    Action.RAISE_QUERY: frozenset({R.MONITOR}),
    Action.CLOSE_QUERY: frozenset({R.MONITOR}),
    Action.ANSWER_QUERY: frozenset({R.COORDINATOR, R.INVESTIGATOR}),
    Action.VIEW_QUERIES: frozenset({R.COORDINATOR, R.INVESTIGATOR, R.MONITOR}),
    Action.LOCK: frozenset({R.MONITOR}),
    # EDC-3: the database lock before the final analysis, by the monitor who locks forms and casebooks.
    Action.LOCK_DATABASE: frozenset({R.MONITOR}),
    # RND-10: the site's investigator or the monitor records that an allocation was made in error.
    Action.FLAG_ALLOCATION: frozenset({R.INVESTIGATOR, R.MONITOR}),
    Action.UNLOCK: frozenset({R.MONITOR}),
    # 21 CFR 11.50: the investigator signs (approval, review, responsibility, authorship).
    Action.SIGN: frozenset({R.INVESTIGATOR}),
    # Site roles export their own sites; arms only for the unblinded roles (EXP-1, EXP-2).
    Action.EXPORT: frozenset({R.COORDINATOR, R.INVESTIGATOR, R.MONITOR, R.BLINDED_STATISTICIAN,
                              R.UNBLINDED_STATISTICIAN, R.DMC}),
}


def parse_role(text: str) -> Role:
    aliases = {"coordinator": Role.COORDINATOR, "site_coordinator": Role.COORDINATOR,
               "blinded_statistician": Role.BLINDED_STATISTICIAN,
               "unblinded_statistician": Role.UNBLINDED_STATISTICIAN, "pv": Role.PHARMACOVIGILANCE}
    try:
        return aliases.get(text) or Role(text)
    except ValueError:
        raise ValueError(f"unknown role {text!r}; roles: {', '.join(r.value for r in Role)}") from None
