"""AUD-6: every workflow action of the API leaves its entry in the audit trail.

One walk calls every state-changing route of the application (POST, PUT, PATCH, DELETE) once, in an order a
trial could follow, and checks after each call that the trail has grown by an entry of the expected kind (an
event such as ``export``, or a change of the expected table). A route added to the application without a step
here (or a named test elsewhere that checks its entry) fails the first test, so no action can go unaudited
unnoticed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from equipoise.store.models import AuditEntry
from tests.forms.conftest import Trial, World, site_date, world
from tests.server.test_further_randomization import PARTS, PROGRESSING
from tests.store.support import DEMO, PASSWORD
from tests.test_traceability import missing_test

__all__ = ["world"]

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
# Routes whose audit entries need another kind of trial, or would end the walk, each with the test that checks
# the entry they write.
ELSEWHERE = {
    ("POST", "/api/trials/{trial_id}/randomization-lists"):
        "tests/server/test_randomization_lists.py::test_upload_is_checked_and_restricted",
    ("POST", "/api/trials/{trial_id}/randomization-lists/{list_id}/download"):
        "tests/server/test_randomization_lists.py::test_download_needs_the_password_and_is_audited",
    ("POST", "/api/trials/{trial_id}/adaptive-tables"):
        "tests/server/test_auth.py::test_sec_reauthentication_needed_for_adaptive_tables_and_planned_unblinding",
    ("POST", "/api/auth/2fa/setup"): "tests/server/test_auth.py::test_acc4_two_factor_login_with_one_time_codes",
    ("POST", "/api/auth/2fa/confirm"): "tests/server/test_auth.py::test_acc4_two_factor_login_with_one_time_codes",
    ("POST", "/api/auth/2fa/disable"): "tests/server/test_auth.py::test_acc4_two_factor_login_with_one_time_codes",
}


@dataclass(frozen=True)
class Step:
    method: str
    route: str  # the route's template, as the application declares it
    path: str
    user: str
    expect: str  # an event action ("export"), or "table:<name>" for a change of that table
    body: Any = None
    key: str | None = None


def _routes(world: World) -> set[tuple[str, str]]:
    """Every state-changing route the application declares (its OpenAPI document lists them all)."""
    paths = world.client.get("/openapi.json").json()["paths"]
    found = {(method.upper(), path) for path, methods in paths.items() for method in methods
             if method.upper() in MUTATING}
    assert len(found) > 40
    return found


def _steps(trial: Trial, world: World) -> list[Step]:
    t, p = "/api/trials/{trial_id}", f"/api/trials/{trial.id}"
    pid = trial.patient()
    other = trial.patient()
    enrolled = trial.enrol()
    form = f"{p}/patients/{pid}/forms/clinical_status/baseline"
    form_t = f"{t}/patients/{{patient_id}}/forms/{{form_id}}/{{visit_id}}"
    today = site_date().isoformat()
    values = {"assessment_date": today, "who_score": 5, "spo2": 93, "resp_rate": 22}
    return [
        Step("POST", "/api/auth/login", "/api/auth/login", "", "login", {"username": "dmc", "password": PASSWORD}),
        Step("POST", "/api/auth/tokens", "/api/auth/tokens", "monitor", "api-token.created",
             {"name": "nightly export", "password": PASSWORD, "days": 30}),
        Step("POST", "/api/users", "/api/users", "admin", "table:users",
             {"username": "nurse", "full_name": "Night Nurse", "password": "a long password 1"}),
        Step("POST", "/api/users/{username}/roles", "/api/users/nurse/roles", "admin", "table:memberships",
             {"role": "site-coordinator", "trial_id": trial.id, "site_id": "pumch"}),
        Step("POST", "/api/roles/{membership_id}/revoke", "/api/roles/{membership}/revoke", "admin",
             "table:memberships", {"reason": "left the unit"}),
        Step("POST", "/api/auth/password", "/api/auth/password", "nurse", "table:users",
             {"old_password": "a long password 1", "new_password": "another long password 2"}),
        Step("POST", "/api/users/{username}/deactivate", "/api/users/nurse/deactivate", "admin", "user.deactivated",
             {"reason": "left the unit"}),
        Step("POST", "/api/users/{username}/activate", "/api/users/nurse/activate", "admin", "user.activated",
             {"reason": "back on the unit"}),
        Step("POST", "/api/trials", "/api/trials", "admin", "table:trials",
             {"protocol_yaml": DEMO.read_text().replace("id: MSC-COVID-RCT\n", "id: AUDITED-2\n", 1),
              "password": PASSWORD}),
        Step("PUT", "/api/trials/{trial_id}/protocol", "/api/trials/AUDITED-2/protocol", "admin", "table:trials",
             {"protocol_yaml": DEMO.read_text().replace("id: MSC-COVID-RCT\n", "id: AUDITED-2\n", 1) + AMENDMENT,
              "reason": "ethics committee approval 42", "password": PASSWORD}),
        Step("POST", f"{t}/patients", f"{p}/patients", "coord", "table:patients",
             {"site_id": "pumch", "values": _eligible(today)}),
        Step("PATCH", f"{t}/patients/{{patient_id}}", f"{p}/patients/{enrolled}", "coord", "table:patients",
             {"values": {"age": 55}, "reason": "typo in the age"}),
        Step("POST", f"{t}/patients/{{patient_id}}/randomize", f"{p}/patients/{enrolled}/randomize", "coord",
             "table:allocations", key=f"{trial.id}-walk-1"),
        Step("POST", f"{t}/enrol-and-randomize", f"{p}/enrol-and-randomize", "coord", "table:allocations",
             {"site_id": "pumch", "values": _eligible(today)}, key=f"{trial.id}-walk-2"),
        Step("POST", f"{t}/patients/{{patient_id}}/randomizations/{{part_id}}",
             f"{p}/patients/{pid}/randomizations/tocilizumab", "coord", "table:part_allocations",
             {"values": PROGRESSING}, key=f"{trial.id}-walk-3"),
        Step("POST", f"{t}/patients/{{patient_id}}/emergency-unblind", f"{p}/patients/{pid}/emergency-unblind",
             "investigator", "table:unblindings", {"reason": "anaphylaxis", "password": PASSWORD}),
        Step("POST", f"{t}/patients/{{patient_id}}/unblinding-requests",
             f"{p}/patients/{other}/unblinding-requests", "pv", "table:unblinding_requests",
             {"reason": "SUSAR report to the regulator"}),
        Step("POST", f"{t}/unblinding-requests/{{request_id}}/decision",
             f"{p}/unblinding-requests/{{request}}/decision", "unblinded_stat", "table:unblinding_requests",
             {"decision": "reject", "reason": "not a SUSAR", "password": PASSWORD}),
        Step("POST", f"{t}/patients/{{patient_id}}/unblinding-requests",
             f"{p}/patients/{other}/unblinding-requests", "investigator", "table:unblinding_requests",
             {"reason": "planning surgery"}),
        Step("POST", f"{t}/unblinding-requests/{{request_id}}/withdraw",
             f"{p}/unblinding-requests/{{request}}/withdraw", "investigator", "table:unblinding_requests",
             {"reason": "surgery postponed"}),
        Step("POST", f"{t}/patients/{{patient_id}}/allocation/flags", f"{p}/patients/{other}/allocation/flags",
             "investigator", "table:allocation_flags",
             {"kind": "ineligible", "reason": "onset was 20 days ago", "password": PASSWORD}),
        Step("POST", f"{t}/allocation-flags/{{flag_id}}/withdraw", f"{p}/allocation-flags/{{flag}}/withdraw",
             "investigator", "table:allocation_flags", {"reason": "onset date misread"}),
        Step("POST", f"{t}/emergency-envelopes", f"{p}/emergency-envelopes", "unblinded_stat",
             "table:emergency_envelopes", {"site_id": "pumch", "count": 2, "password": PASSWORD}),
        Step("POST", f"{t}/patients/{{patient_id}}/randomize-offline", f"{p}/patients/{{fresh}}/randomize-offline",
             "coord", "table:allocations", {"envelope": 1, "opened_at": "{opened_at}", "reason": "server down"},
             key=f"{trial.id}-walk-4"),
        Step("PUT", form_t, form, "coord", "table:form_records", {"values": values}),
        Step("PATCH", form_t, form, "coord", "table:form_records",
             {"values": {"who_score": 6}, "reason": "re-read the chart"}),
        Step("POST", f"{form_t}/not-done", f"{p}/patients/{pid}/forms/imaging/baseline/not-done", "coord",
             "table:form_records", {"reason": "scanner broken"}),
        Step("POST", f"{t}/queries", f"{p}/queries", "monitor", "table:form_queries",
             {"patient_id": pid, "form_id": "clinical_status", "visit_id": "baseline", "text": "SpO2 source?"}),
        Step("POST", f"{t}/queries/{{query_id}}/answer", f"{p}/queries/{{query}}/answer", "coord",
             "table:form_queries", {"text": "monitor printout"}),
        Step("POST", f"{t}/queries/{{query_id}}/reopen", f"{p}/queries/{{query}}/reopen", "monitor",
             "table:form_queries", {"text": "which printout?"}),
        Step("POST", f"{t}/queries/{{query_id}}/close", f"{p}/queries/{{query}}/close", "monitor",
             "table:form_queries", {"text": "seen on site"}),
        Step("POST", f"{form_t}/sign", f"{form}/sign", "investigator", "table:signatures",
             {"meaning": "approval", "password": PASSWORD, "username": "investigator"}),
        Step("POST", f"{t}/patients/{{patient_id}}/sign", f"{p}/patients/{pid}/sign", "investigator",
             "table:signatures", {"meaning": "responsibility", "password": PASSWORD}),
        Step("POST", f"{form_t}/lock", f"{form}/lock", "monitor", "table:form_records", {"reason": "clean"}),
        Step("POST", f"{form_t}/unlock", f"{form}/unlock", "monitor", "table:form_records",
             {"reason": "late correction"}),
        Step("POST", f"{t}/patients/{{patient_id}}/lock", f"{p}/patients/{pid}/lock", "monitor",
             "table:patient_locks", {"reason": "casebook clean"}),
        Step("POST", f"{t}/patients/{{patient_id}}/unlock", f"{p}/patients/{pid}/unlock", "monitor",
             "table:patient_locks", {"reason": "late lab result"}),
        Step("POST", f"{t}/patients/{{patient_id}}/off-study", f"{p}/patients/{other}/off-study", "coord",
             "table:off_study", {"kind": "lost-to-follow-up", "effective_date": today, "reason": "moved away"}),
        Step("POST", f"{t}/patients/{{patient_id}}/off-study/cancel", f"{p}/patients/{other}/off-study/cancel",
             "coord", "table:off_study", {"reason": "patient came back"}),
        Step("POST", f"{t}/database-lock", f"{p}/database-lock", "monitor", "table:trials",
             {"reason": "final analysis", "password": PASSWORD}),
        Step("POST", f"{t}/database-unlock", f"{p}/database-unlock", "monitor", "table:trials",
             {"reason": "a late query", "password": PASSWORD}),
        Step("POST", f"{t}/unblind", f"{p}/unblind", "unblinded_stat", "table:trials",
             {"reason": "final analysis done", "password": PASSWORD}),
        Step("POST", "/api/auth/logout", "/api/auth/logout", "dmc", "logout"),
    ]


AMENDMENT = """
amendments:
  - version: "1.1"
    effective_date: 2099-01-01
    summary: Open a site in Lyon.
    changes:
      - change: add-site
        site: {id: lyon, name: Hopital de la Croix-Rousse, country: FR, timezone: Europe/Paris}
"""


def _eligible(today: str) -> dict[str, object]:
    from tests.forms.conftest import demo_values

    return demo_values(dt.date.fromisoformat(today))


def test_every_state_changing_route_is_in_the_walk_or_named_elsewhere(world: World):
    trial = world.trial(DEMO.read_text() + PARTS)
    walked = {(s.method, s.route) for s in _steps(trial, world)}
    assert _routes(world) - walked - set(ELSEWHERE) == set()
    assert (walked | set(ELSEWHERE)) - _routes(world) == set()
    assert [why for node in ELSEWHERE.values() if (why := missing_test(node))] == []


def test_aud6_every_action_leaves_its_entry(world: World):
    trial = world.trial(DEMO.read_text() + PARTS)
    client = world.client
    tokens = dict(world.tokens)
    ids: dict[str, object] = {}
    for step in _steps(trial, world):
        path = step.path.format(**ids) if "{" in step.path else step.path
        body = step.body
        if isinstance(body, dict) and body.get("opened_at") == "{opened_at}":
            body = {**body, "opened_at": dt.datetime.now(dt.UTC).isoformat()}
        headers = {"Authorization": f"Bearer {tokens[step.user]}"} if step.user else {}
        if step.key:
            headers["Idempotency-Key"] = step.key
        with world.db.read() as s:
            before = s.scalar(select(func.max(AuditEntry.id))) or 0
        response = client.request(step.method, path, json=body, headers=headers)
        assert response.status_code < 300, f"{step.method} {path} as {step.user}: {response.text}"
        with world.db.read() as s:
            entries = s.scalars(select(AuditEntry).where(AuditEntry.id > before)).all()
        kinds = {e.action for e in entries} | {f"table:{e.table_name}" for e in entries if e.table_name}
        assert step.expect in kinds, f"{step.method} {step.route}: no {step.expect} entry (found {sorted(kinds)})"
        data = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        _remember(step, data, ids, tokens, trial)
    report = client.get("/api/audit/verify", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert report.json()["ok"] is True


def _remember(step: Step, data: Any, ids: dict[str, object], tokens: dict[str, str], trial: Trial) -> None:
    """Ids later steps need: the new user's session, the role to revoke, the request, flag, query ..."""
    if step.route == "/api/users/{username}/roles":
        ids["membership"] = data["roles"][-1]["id"]
    elif step.route == "/api/users":
        login = trial.world.client.post("/api/auth/login", json={"username": "nurse",
                                                                 "password": "a long password 1"})
        tokens["nurse"] = login.json()["token"]
    elif step.route.endswith("/unblinding-requests"):
        ids["request"] = data["id"]
    elif step.route.endswith("/allocation/flags"):
        ids["flag"] = data["id"]
    elif step.route.endswith("/queries"):
        ids["query"] = data["id"]
    elif step.route.endswith("/emergency-envelopes"):
        ids["fresh"] = trial.enrol()
    elif step.route == "/api/auth/login":
        tokens["dmc"] = data["token"]
