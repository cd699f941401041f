"""``POST /api/trials/{id}/enrol-and-randomize`` through the real app: status codes, retries, blinding."""

from __future__ import annotations

from tests.server.conftest import TRIAL, Api, eligible

URL = f"/api/trials/{TRIAL}/enrol-and-randomize"


def test_enrol_and_randomize_answers_201_then_200_for_the_retry(api: Api):
    headers = api.headers("coord", **{"Idempotency-Key": "site-42-visit-1"})
    first = api.client.post(URL, json={"site_id": "pumch", "values": eligible()}, headers=headers)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["replayed"] is False
    assert body["patient"]["status"] == "randomized"
    assert body["allocation"]["patient_id"] == body["patient"]["id"]
    # The demo trial is blinded: the coordinator gets a kit code, never the arm.
    assert body["allocation"]["kit_code"]
    assert body["allocation"]["arm"] is None
    assert body["allocation"]["arm_name"] is None

    retry = api.client.post(URL, json={"site_id": "pumch", "values": eligible()}, headers=headers)
    assert retry.status_code == 200
    assert retry.json()["replayed"] is True
    assert retry.json()["allocation"]["allocation_id"] == body["allocation"]["allocation_id"]
    assert retry.json()["allocation"]["kit_code"] == body["allocation"]["kit_code"]

    seen = api.client.get(f"/api/trials/{TRIAL}/patients/{body['patient']['id']}/allocation",
                          headers=api.headers("unblinded_stat"))
    assert seen.json()["arm"] in {"msc", "placebo"}
    assert api.client.get("/api/audit/verify", headers=api.headers("admin")).json()["ok"] is True


def test_enrol_and_randomize_refuses_with_reasons(api: Api):
    no_key = api.client.post(URL, json={"site_id": "pumch", "values": eligible()}, headers=api.headers("coord"))
    assert no_key.status_code == 422
    assert "Idempotency-Key" in no_key.json()["detail"]

    ineligible = api.client.post(URL, json={"site_id": "pumch", "values": eligible(consent=False)},
                                 headers=api.headers("coord", **{"Idempotency-Key": "k-ineligible"}))
    assert ineligible.status_code == 422
    assert ineligible.json()["detail"].startswith("not eligible")
    assert [c["id"] for c in ineligible.json()["failed"]] == ["consent"]

    bad_value = api.client.post(URL, json={"site_id": "pumch", "values": eligible(age="fifty")},
                                headers=api.headers("coord", **{"Idempotency-Key": "k-bad"}))
    assert bad_value.status_code == 422
    assert "age" in bad_value.json()["detail"]

    other_site = api.client.post(URL, json={"site_id": "pumch", "values": eligible()},
                                 headers=api.headers("coord_milan", **{"Idempotency-Key": "k-milan"}))
    assert other_site.status_code == 403
    patients = api.client.get(f"/api/trials/{TRIAL}/patients", headers=api.headers("monitor")).json()
    assert patients == []
