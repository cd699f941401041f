"""Role × endpoint matrix: every role gets exactly what it may (REDCap C.3.30.0600/1500; clinicedc site scoping).

A coordinator never sees another site's patients and, in a blinded trial, never any arm. Unknown patients
of another site answer 404, not 403, so their existence is not revealed.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.conftest import TRIAL, USERS, Api, eligible
from tests.store.support import PASSWORD

BASE = f"/api/trials/{TRIAL}"
ROLES = list(USERS)
ARMS = {"msc", "placebo"}

# endpoint name -> the users that succeed; everyone else gets the status in REFUSED (default 403)
ALLOWED: dict[str, set[str]] = {
    "trial": set(ROLES),
    "protocol": set(ROLES),
    "enrol": {"coord", "investigator"},
    "patients": {"coord", "coord_milan", "investigator", "monitor", "blinded_stat", "unblinded_stat", "dmc"},
    "patient": {"coord", "investigator", "monitor", "blinded_stat", "unblinded_stat", "dmc"},
    "allocation": {"coord", "investigator", "monitor", "blinded_stat", "unblinded_stat", "dmc"},
    "allocations": {"coord", "coord_milan", "investigator", "monitor", "blinded_stat", "unblinded_stat", "dmc"},
    "randomize": {"coord", "investigator"},
    "enrol_randomize": {"coord", "investigator"},
    "correct": {"coord", "investigator"},
    "discrepancies": {"coord", "coord_milan", "investigator", "monitor"},
    "emergency": {"investigator"},
    "ask_unblinding": {"investigator", "pv"},
    "unblinding_requests": {"investigator", "unblinded_stat", "pv"},
    "unblinding_decision": {"unblinded_stat"},
    "randomization_lists": {"unblinded_stat"},
    "envelopes": {"coord", "coord_milan", "investigator", "monitor", "blinded_stat", "unblinded_stat", "dmc"},
    "allocation_flags": {"coord", "coord_milan", "investigator", "monitor", "blinded_stat", "unblinded_stat", "dmc"},
    "notifications": {"unblinded_stat", "dmc", "pv"},
    "aggregates": {"unblinded_stat", "dmc"},
    "adaptive": {"unblinded_stat", "dmc"},
    "audit": {"admin", "monitor", "unblinded_stat"},
    "verify": {"admin"},
    "users": {"admin"},
    "replay": {"admin", "unblinded_stat"},
}
# Site scoping: the Milan coordinator is told the PUMCH patient does not exist.
REFUSED: dict[tuple[str, str], int] = {
    ("coord_milan", "patient"): 404,
    ("coord_milan", "allocation"): 404,
    ("coord_milan", "randomize"): 404,
    ("coord_milan", "correct"): 404,
}
SEES_ARMS = {"unblinded_stat", "dmc"}


def _request(api: Api, user: str, endpoint: str, pid: int, fresh: int, asked: int) -> Any:
    c, h = api.client, api.headers(user, **{"Idempotency-Key": f"m-{user}-{endpoint}"})
    calls = {
        "trial": lambda: c.get(BASE, headers=h),
        "protocol": lambda: c.get(f"{BASE}/protocol", headers=h),
        "enrol": lambda: c.post(f"{BASE}/patients", json={"site_id": "pumch", "values": eligible()}, headers=h),
        "patients": lambda: c.get(f"{BASE}/patients", headers=h),
        "patient": lambda: c.get(f"{BASE}/patients/{pid}", headers=h),
        "allocation": lambda: c.get(f"{BASE}/patients/{pid}/allocation", headers=h),
        "allocations": lambda: c.get(f"{BASE}/allocations", headers=h),
        "randomize": lambda: c.post(f"{BASE}/patients/{fresh}/randomize", headers=h),
        "enrol_randomize": lambda: c.post(f"{BASE}/enrol-and-randomize",
                                          json={"site_id": "pumch", "values": eligible()}, headers=h),
        "correct": lambda: c.patch(f"{BASE}/patients/{pid}", json={"values": {"age": 55}, "reason": "typo"},
                                   headers=h),
        "discrepancies": lambda: c.get(f"{BASE}/discrepancies", headers=h),
        "emergency": lambda: c.post(f"{BASE}/patients/{pid}/emergency-unblind",
                                    json={"reason": "SAE", "password": PASSWORD}, headers=h),
        "ask_unblinding": lambda: c.post(f"{BASE}/patients/{pid}/unblinding-requests", json={"reason": "SUSAR"},
                                         headers=h),
        "unblinding_requests": lambda: c.get(f"{BASE}/unblinding-requests", headers=h),
        "unblinding_decision": lambda: c.post(f"{BASE}/unblinding-requests/{asked}/decision", headers=h, json={
            "decision": "reject", "reason": "not needed", "password": PASSWORD}),
        "randomization_lists": lambda: c.get(f"{BASE}/randomization-lists", headers=h),
        "envelopes": lambda: c.get(f"{BASE}/emergency-envelopes", headers=h),
        "allocation_flags": lambda: c.get(f"{BASE}/allocation-flags", headers=h),
        "notifications": lambda: c.get(f"{BASE}/notifications", headers=h),
        "aggregates": lambda: c.get(f"{BASE}/aggregates", headers=h),
        "adaptive": lambda: c.get(f"{BASE}/adaptive-tables", headers=h),
        "audit": lambda: c.get("/api/audit", params={"trial_id": TRIAL}, headers=h),
        "verify": lambda: c.get("/api/audit/verify", headers=h),
        "users": lambda: c.get("/api/users", headers=h),
        "replay": lambda: c.get(f"{BASE}/replay", headers=h),
    }
    return calls[endpoint]()


def _arm_leaks(data: Any) -> list[str]:
    """Every place in a JSON document where an arm shows."""
    leaks: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("arm", "arm_name", "by_arm") and value not in (None, "(blinded)"):
                leaks.append(f"{key}={value!r}")
            leaks += _arm_leaks(value)
    elif isinstance(data, list):
        for item in data:
            leaks += _arm_leaks(item)
    elif isinstance(data, str) and data in ARMS:
        leaks.append(data)
    return leaks


def _enrol_and_randomize(api: Api) -> int:
    pid = api.client.post(f"{BASE}/patients", json={"site_id": "pumch", "values": eligible()},
                          headers=api.headers("coord")).json()["id"]
    response = api.client.post(f"{BASE}/patients/{pid}/randomize", headers=api.headers("coord", **{
        "Idempotency-Key": f"setup-{pid}"}))
    assert response.status_code == 201
    return int(pid)


@pytest.mark.parametrize("user", ROLES)
def test_role_endpoint_matrix(api: Api, user: str):
    pid = _enrol_and_randomize(api)
    # An open unblinding request (on another patient) for the reviewer's decision.
    asked = api.client.post(f"{BASE}/patients/{_enrol_and_randomize(api)}/unblinding-requests",
                            json={"reason": "SUSAR"}, headers=api.headers("investigator")).json()["id"]
    for endpoint, allowed in ALLOWED.items():
        fresh = api.client.post(f"{BASE}/patients", json={"site_id": "pumch", "values": eligible()},
                                headers=api.headers("coord")).json()["id"]
        response = _request(api, user, endpoint, pid, fresh, asked)
        if user in allowed:
            assert response.status_code < 300, f"{user} {endpoint}: {response.status_code} {response.text}"
        else:
            expected = REFUSED.get((user, endpoint), 403)
            assert response.status_code == expected, f"{user} {endpoint}: {response.status_code} {response.text}"
            assert response.json()["detail"]
        # Blinded roles never see an arm (an emergency unblinding shows the investigator one patient's).
        if endpoint not in ("protocol", "emergency") and user not in SEES_ARMS and response.status_code < 300:
            assert _arm_leaks(response.json()) == [], f"{user} {endpoint} shows an arm"


def test_site_scoping_coordinator_sees_only_own_site(api: Api):
    _enrol_and_randomize(api)
    milan = api.client.post(f"{BASE}/patients", json={"site_id": "milan-sacco", "values": eligible()},
                            headers=api.headers("coord_milan"))
    assert milan.status_code == 201
    wrong_site = api.client.post(f"{BASE}/patients", json={"site_id": "milan-sacco", "values": eligible()},
                                 headers=api.headers("coord"))
    assert wrong_site.status_code == 403
    seen = {p["site_id"] for p in api.client.get(f"{BASE}/patients", headers=api.headers("coord")).json()}
    assert seen == {"pumch"}
    seen = {p["site_id"] for p in api.client.get(f"{BASE}/patients", headers=api.headers("coord_milan")).json()}
    assert seen == {"milan-sacco"}
    allocations = api.client.get(f"{BASE}/allocations", headers=api.headers("coord_milan")).json()
    assert allocations == []
    monitor = {p["site_id"] for p in api.client.get(f"{BASE}/patients", headers=api.headers("monitor")).json()}
    assert monitor == {"pumch", "milan-sacco"}


def test_audit_trail_is_masked_for_blinded_readers(api: Api):
    _enrol_and_randomize(api)
    monitor = api.client.get("/api/audit", params={"trial_id": TRIAL, "table": "allocations"},
                             headers=api.headers("monitor")).json()
    assert monitor
    assert monitor[0]["new_values"]["arm"] == "(blinded)"
    assert monitor[0]["new_values"]["draws"] == "(blinded)"
    unblinded = api.client.get("/api/audit", params={"trial_id": TRIAL, "table": "allocations"},
                               headers=api.headers("unblinded_stat")).json()
    assert unblinded[0]["new_values"]["arm"] in ARMS


def test_a_site_monitor_reads_its_own_sites_audit_entries_only(api: Api):
    """AUD-1 and site scoping: every entry of a patient's records names the patient's site, and a monitor scoped to
    one hospital reads that hospital's entries only: another site's patients, refusals and exports are not theirs,
    nor are trial-wide entries (before migration 0020 the trail gave them every site's records)."""
    from equipoise.identity.principal import system_principal
    from equipoise.identity.roles import Role
    from equipoise.services.users import add_user

    add_user(api.db, system_principal("test"), "monitor_pumch", "Monitor Pumch", PASSWORD,
             roles=[(Role.MONITOR, TRIAL, "pumch")])
    login = api.client.post("/api/auth/login", json={"username": "monitor_pumch", "password": PASSWORD})
    site_monitor = {"Authorization": f"Bearer {login.json()['token']}"}
    pumch = _enrol_and_randomize(api)
    milan = api.client.post(f"{BASE}/enrol-and-randomize", json={"site_id": "milan-sacco", "values": eligible()},
                            headers=api.headers("coord_milan", **{"Idempotency-Key": "milan-1"}))
    assert milan.status_code == 201, milan.text
    milan_id = milan.json()["patient"]["id"]
    refused = api.client.post(f"{BASE}/patients", json={"site_id": "milan-sacco", "values": eligible(consent=False)},
                              headers=api.headers("coord_milan"))
    assert refused.status_code == 422
    assert api.client.get(f"{BASE}/export", params={"format": "csv"}, headers=api.headers("coord_milan")
                          ).status_code == 200

    def trail(headers: dict[str, str], **params: object) -> list[dict[str, Any]]:
        response = api.client.get("/api/audit", params={"trial_id": TRIAL, "limit": 1000, **params}, headers=headers)
        assert response.status_code == 200, response.text
        return list(response.json())

    everything = trail(api.headers("monitor"))
    by_record = {(e["table"], e["record_id"], e["action"]): e["site_id"] for e in everything}
    assert by_record[("patients", str(pumch), "insert")] == "pumch"
    assert by_record[("patients", str(pumch), "update")] == "pumch"  # randomized
    assert by_record[("patients", str(milan_id), "insert")] == "milan-sacco"
    allocations = {e["new_values"]["patient_id"]: e for e in everything
                   if e["table"] == "allocations" and e["action"] == "insert"}
    assert {pid: e["site_id"] for pid, e in allocations.items()} == {pumch: "pumch", milan_id: "milan-sacco"}
    assert {e["site_id"] for e in everything if e["action"] in ("enrolment.refused", "export")} == {"milan-sacco"}
    assert {e["site_id"] for e in everything if e["table"] in ("trials", "allocation_states")} == {None}

    mine = trail(site_monitor)
    assert mine, "the site monitor reads its own site's entries"
    assert {e["site_id"] for e in mine} == {"pumch"}
    assert {("patients", str(pumch)), ("allocations", allocations[pumch]["record_id"])} <= {
        (e["table"], e["record_id"]) for e in mine}
    assert trail(site_monitor, patient_id=milan_id) == []
    refused_here = api.client.get("/api/audit", params={"trial_id": TRIAL, "site_id": "milan-sacco"},
                                  headers=site_monitor)
    assert refused_here.status_code == 403
    assert refused_here.json()["detail"] == "your role does not allow view-audit at site milan-sacco"
    # a trial-wide reader narrows the trail to one site
    milan_only = trail(api.headers("monitor"), site_id="milan-sacco")
    assert {e["action"] for e in milan_only} >= {"insert", "update", "enrolment.refused", "export"}
    assert {e["site_id"] for e in milan_only} == {"milan-sacco"}
