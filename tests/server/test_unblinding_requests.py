"""UNB-2: unblinding one patient outside an emergency goes through a request and a review, and reveals the
arm to the requester only (clinicedc edc_unblinding; ICH E6(R3) Annex 1 p. 40)."""

from __future__ import annotations

from typing import Any

import pytest

from equipoise.errors import ServiceError, UserError
from equipoise.identity.principal import system_principal
from tests.server.conftest import TRIAL, Api, eligible
from tests.store.support import PASSWORD

BASE = f"/api/trials/{TRIAL}"
REQUESTS = f"{BASE}/unblinding-requests"


def _randomized(api: Api, key: str, site: str = "pumch", user: str = "coord") -> int:
    pid = api.client.post(f"{BASE}/patients", json={"site_id": site, "values": eligible()},
                          headers=api.headers(user)).json()["id"]
    response = api.client.post(f"{BASE}/patients/{pid}/randomize", headers=api.headers(user, **{
        "Idempotency-Key": key}))
    assert response.status_code == 201, response.text
    return int(pid)


def _ask(api: Api, pid: int, user: str = "investigator", reason: str = "SUSAR: hepatic failure") -> Any:
    return api.client.post(f"{BASE}/patients/{pid}/unblinding-requests", json={"reason": reason},
                           headers=api.headers(user))


def _decide(api: Api, rid: int, decision: str, password: str = PASSWORD, user: str = "unblinded_stat") -> Any:
    return api.client.post(f"{REQUESTS}/{rid}/decision",
                           json={"decision": decision, "reason": "expedited report due", "password": password},
                           headers=api.headers(user))


def test_request_review_approve_shows_the_arm_to_the_requester_only(api: Api):
    pid = _randomized(api, "r1")
    true_arm = api.client.get(f"{BASE}/patients/{pid}/allocation", headers=api.headers("unblinded_stat")).json()["arm"]
    assert _ask(api, pid, user="coord").status_code == 403  # coordinators do not ask
    assert _ask(api, pid, user="coord_milan").status_code == 403
    assert _ask(api, pid, reason="  ").status_code == 422
    asked = _ask(api, pid)
    assert asked.status_code == 201, asked.text
    request = asked.json()
    assert request["status"] == "requested"
    assert request["arm"] is None
    assert request["kit_code"]
    assert request["requested_by"] == "investigator"
    rid = request["id"]
    # At most one open request per patient.
    assert _ask(api, pid).status_code == 409
    # The Milan coordinator's site does not see the request; the reviewer sees every site's.
    assert api.client.get(f"{REQUESTS}/{rid}", headers=api.headers("coord_milan")).status_code == 403
    listed = api.client.get(REQUESTS, headers=api.headers("unblinded_stat"), params={"status": "requested"}).json()
    assert [r["id"] for r in listed] == [rid]
    # Only the reviewer decides, with the password again; nothing is shown before the decision.
    assert _decide(api, rid, "approve", user="investigator").status_code == 403
    assert _decide(api, rid, "approve", user="monitor").status_code == 403
    assert _decide(api, rid, "approve", password="wrong password").status_code == 401
    assert api.client.get(f"{REQUESTS}/{rid}", headers=api.headers("investigator")).json()["arm"] is None
    approved = _decide(api, rid, "approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == "unblinded_stat"
    # The requester now sees the arm on the request; the allocation itself stays blinded for the site.
    seen = api.client.get(f"{REQUESTS}/{rid}", headers=api.headers("investigator")).json()
    assert seen["arm"] == true_arm
    views = api.client.get("/api/audit", params={"trial_id": TRIAL, "action": "unblinding.viewed"},
                           headers=api.headers("admin")).json()
    assert [(e["actor"], e["record_id"]) for e in views] == [("investigator", str(rid))]  # each view audited
    assert seen["arm_name"]
    allocation = api.client.get(f"{BASE}/patients/{pid}/allocation", headers=api.headers("investigator")).json()
    assert allocation["arm"] is None
    assert _decide(api, rid, "reject").status_code == 409  # decided once
    # Every step notified the unblinded roles, and the unblinding itself is recorded and audited.
    kinds = [n["kind"] for n in api.client.get(f"{BASE}/notifications", headers=api.headers("dmc")).json()]
    assert kinds == ["unblinding-requested", "unblinding-approved"]
    audit = api.client.get("/api/audit", params={"trial_id": TRIAL, "table": "unblindings"},
                           headers=api.headers("admin")).json()
    assert [(e["action"], e["new_values"]["kind"]) for e in audit] == [("insert", "on-request")]
    changes = api.client.get("/api/audit", params={"trial_id": TRIAL, "table": "unblinding_requests"},
                             headers=api.headers("admin")).json()
    assert {e["reason"] for e in changes} == {"SUSAR: hepatic failure", "expedited report due",
                                              "approved unblinding request read"}
    report = api.client.get("/api/audit/verify", headers=api.headers("admin")).json()
    assert report["ok"], [f["message"] for f in report["findings"]]


def test_a_second_investigator_at_the_site_is_not_shown_the_arm(api: Api):
    from equipoise.identity.principal import system_principal
    from equipoise.identity.roles import Role
    from equipoise.services.users import add_user

    add_user(api.db, system_principal("test"), "investigator2", "Investigator Two", PASSWORD,
             roles=[(Role.INVESTIGATOR, TRIAL, "pumch")])
    token = api.client.post("/api/auth/login", json={"username": "investigator2", "password": PASSWORD}).json()["token"]
    pid = _randomized(api, "r2")
    rid = _ask(api, pid).json()["id"]
    assert _decide(api, rid, "approve").status_code == 200
    colleague = api.client.get(f"{REQUESTS}/{rid}", headers={"Authorization": f"Bearer {token}"})
    assert colleague.status_code == 200
    assert colleague.json()["status"] == "approved"
    assert colleague.json()["arm"] is None
    listed = api.client.get(REQUESTS, headers={"Authorization": f"Bearer {token}"}).json()
    assert [r["arm"] for r in listed] == [None]
    # Only the requester withdraws, and only an open request.
    other = _randomized(api, "r3")
    open_id = _ask(api, other).json()["id"]
    refused = api.client.post(f"{REQUESTS}/{open_id}/withdraw", json={"reason": "not needed"},
                              headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403


def test_reject_and_withdraw_show_nothing_and_free_the_patient_for_a_new_request(api: Api):
    pid = _randomized(api, "r4")
    rid = _ask(api, pid).json()["id"]
    rejected = _decide(api, rid, "reject")
    assert rejected.status_code == 200
    assert rejected.json()["status"] == "rejected"
    assert api.client.get(f"{REQUESTS}/{rid}", headers=api.headers("investigator")).json()["arm"] is None
    again = _ask(api, pid, reason="SUSAR: new information")
    assert again.status_code == 201
    second = again.json()["id"]
    withdrawn = api.client.post(f"{REQUESTS}/{second}/withdraw", json={"reason": "the event was not serious"},
                                headers=api.headers("investigator"))
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn"
    assert _decide(api, second, "approve").status_code == 409
    assert api.client.post(f"{REQUESTS}/{second}/withdraw", json={"reason": "twice"},
                           headers=api.headers("investigator")).status_code == 409
    statuses = [r["status"] for r in api.client.get(REQUESTS, headers=api.headers("investigator")).json()]
    assert statuses == ["rejected", "withdrawn"]


def test_requests_refused_for_patients_not_randomized_or_unknown(api: Api):
    pid = api.client.post(f"{BASE}/patients", json={"site_id": "pumch", "values": eligible()},
                          headers=api.headers("coord")).json()["id"]
    not_randomized = _ask(api, pid)
    assert not_randomized.status_code == 409
    assert "not randomized" in not_randomized.json()["detail"]
    assert _ask(api, 999999).status_code == 404
    milan = _randomized(api, "r5", site="milan-sacco", user="coord_milan")
    assert _ask(api, milan).status_code == 404  # another site's patient: its existence is not revealed
    assert api.client.get(f"{REQUESTS}/999999", headers=api.headers("unblinded_stat")).status_code == 404
    assert _decide(api, 999999, "approve").status_code == 404
    bad = api.client.post(f"{REQUESTS}/1/decision", json={"decision": "maybe", "reason": "x", "password": PASSWORD},
                          headers=api.headers("unblinded_stat"))
    assert bad.status_code == 422
    assert bad.json()["detail"]


def test_no_request_after_planned_unblinding(api: Api):
    pid = _randomized(api, "r6")
    unblinded = api.client.post(f"{BASE}/unblind", json={"reason": "final analysis", "password": PASSWORD},
                                headers=api.headers("unblinded_stat"))
    assert unblinded.status_code == 200, unblinded.text
    refused = _ask(api, pid)
    assert refused.status_code == 409
    assert "unblinded" in refused.json()["detail"]


def test_nobody_reviews_their_own_request(api: Api):
    """Defence in depth: user administration refuses a blinded and an unblinded role in one trial (ACC-3), so the
    service is given such a principal directly."""
    from equipoise.identity.auth import AuthService
    from equipoise.identity.principal import Grant, Principal
    from equipoise.identity.roles import Role
    from equipoise.services.unblinding_requests import UnblindingRequestService
    from equipoise.services.users import add_user

    with pytest.raises(UserError, match="blinded or unblinded, not both"):
        add_user(api.db, system_principal("test"), "both", "Both Roles", PASSWORD,
                 roles=[(Role.INVESTIGATOR, TRIAL, "pumch"), (Role.UNBLINDED_STATISTICIAN, TRIAL, None)])
    me = api.client.get("/api/auth/me", headers=api.headers("investigator")).json()
    both = Principal(user_id=me["id"], username="investigator", grants=(
        Grant(Role.INVESTIGATOR, TRIAL, "pumch"), Grant(Role.UNBLINDED_STATISTICIAN, TRIAL, None)))
    service = UnblindingRequestService(api.db, AuthService(api.db))
    asked = service.request(both, TRIAL, _randomized(api, "r7"), "SUSAR")
    with pytest.raises(ServiceError, match="own"):
        service.decide(both, TRIAL, asked.id, "approve", "mine", PASSWORD)
    assert _decide(api, asked.id, "approve").status_code == 200


def test_pharmacovigilance_is_told_and_asks_for_the_arm_of_a_susar(api: Api):
    """UNB-1 and UNB-2 for the sponsor's safety team: notified of an emergency unblinding (kit code, never the
    arm), then shown the arm only through an approved request."""
    pid = _randomized(api, "pv1")
    emergency = api.client.post(f"{BASE}/patients/{pid}/emergency-unblind", headers=api.headers("investigator"),
                                json={"reason": "anaphylaxis", "password": PASSWORD})
    assert emergency.status_code == 200
    notes = api.client.get(f"{BASE}/notifications", headers=api.headers("pv")).json()
    assert [n["kind"] for n in notes] == ["emergency-unblinding"]
    assert emergency.json()["arm"] not in notes[0]["message"].split()
    asked = _ask(api, pid, user="pv", reason="SUSAR: expedited report to the regulator")
    assert asked.status_code == 201, asked.text
    assert asked.json()["arm"] is None
    assert _decide(api, asked.json()["id"], "approve").status_code == 200
    seen = api.client.get(f"{REQUESTS}/{asked.json()['id']}", headers=api.headers("pv")).json()
    assert seen["arm"] == emergency.json()["arm"]
    # The safety team sees no patient data and no allocation list.
    assert api.client.get(f"{BASE}/patients", headers=api.headers("pv")).status_code == 403
    assert api.client.get(f"{BASE}/allocations", headers=api.headers("pv")).status_code == 403
