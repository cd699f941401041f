"""Every list route comes a page at a time (issue 18): discrepancies, allocation flags, users and trials take
``limit`` (1-1000, default 100) and ``after_id`` (the last id seen); the pages together are the whole list, in the
same order, and a page stays within what the caller may see."""

from __future__ import annotations

from typing import Any

from equipoise.identity.principal import system_principal
from equipoise.services.trials import create_trial_from_file
from tests.server.conftest import TRIAL, Api, eligible
from tests.store.support import PASSWORD, PLATFORM

BASE = f"/api/trials/{TRIAL}"


def _pages(api: Api, path: str, user: str, size: int) -> list[list[Any]]:
    """Every page of ``path`` of ``size`` items, following the last id seen until a page comes back empty."""
    pages: list[list[Any]] = []
    after: Any = None
    while True:
        params: dict[str, Any] = {"limit": size} if after is None else {"limit": size, "after_id": after}
        response = api.client.get(path, params=params, headers=api.headers(user))
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page) <= size
        if not page:
            return pages
        pages.append(page)
        after = page[-1]["id"]


def _whole(api: Api, path: str, user: str) -> list[Any]:
    response = api.client.get(path, headers=api.headers(user))
    assert response.status_code == 200, response.text
    return list(response.json())


def _randomized(api: Api, key: str, site: str = "pumch", user: str = "coord") -> int:
    response = api.client.post(f"{BASE}/enrol-and-randomize", json={"site_id": site, "values": eligible()},
                               headers=api.headers(user, **{"Idempotency-Key": key}))
    assert response.status_code == 201, response.text
    return int(response.json()["patient"]["id"])


def test_discrepancies_and_flags_page_by_the_last_id_seen(api: Api) -> None:
    pids = [_randomized(api, f"k{i}") for i in range(3)]
    milan = _randomized(api, "milan", site="milan-sacco", user="coord_milan")
    for pid in pids:
        corrected = api.client.patch(f"{BASE}/patients/{pid}", json={"values": {"severity": "critical"},
                                                                      "reason": "typo at entry"},
                                     headers=api.headers("coord"))
        assert corrected.status_code == 200, corrected.text
        flagged = api.client.post(f"{BASE}/patients/{pid}/allocation/flags", headers=api.headers("investigator"),
                                  json={"kind": "ineligible", "reason": "eGFR below the limit", "password": PASSWORD})
        assert flagged.status_code == 201, flagged.text
    assert api.client.post(f"{BASE}/patients/{milan}/allocation/flags", headers=api.headers("monitor"), json={
        "kind": "duplicate-patient", "reason": "enrolled twice", "password": PASSWORD}).status_code == 201
    for path, user, count in ((f"{BASE}/discrepancies", "monitor", 3), (f"{BASE}/allocation-flags", "monitor", 4),
                              (f"{BASE}/allocation-flags", "coord", 3)):
        whole = _whole(api, path, user)
        assert len(whole) == count, path
        pages = _pages(api, path, user, 2)
        assert [len(p) for p in pages] == [2, count - 2], path
        assert [item for page in pages for item in page] == whole, path
    # A site's coordinator pages through their own site's flags only.
    assert {f["patient_id"] for f in _whole(api, f"{BASE}/allocation-flags", "coord")} == set(pids)
    assert [[f["patient_id"]] for page in _pages(api, f"{BASE}/allocation-flags", "coord_milan", 1)
            for f in page] == [[milan]]


def test_users_and_trials_page_by_the_last_id_seen(api: Api) -> None:
    create_trial_from_file(api.db, system_principal("test"), PLATFORM)
    users = _whole(api, "/api/users", "admin")
    assert len(users) >= 9
    pages = _pages(api, "/api/users", "admin", 4)
    assert [u for page in pages for u in page] == users
    assert [u["roles"] for u in users if u["username"] == "coord"] != [[]]  # each user's roles come with the page
    trials = _whole(api, "/api/trials", "admin")
    assert sorted(t["id"] for t in trials) == sorted([TRIAL, "PANDEMIC-PLATFORM"])
    assert [t for page in _pages(api, "/api/trials", "admin", 1) for t in page] == trials
    # A trial's own staff see that trial only, on every page.
    assert [t["id"] for page in _pages(api, "/api/trials", "coord", 1) for t in page] == [TRIAL]


def test_list_routes_refuse_a_page_size_out_of_range(api: Api) -> None:
    for path in (f"{BASE}/discrepancies", f"{BASE}/allocation-flags", "/api/users", "/api/trials"):
        for limit in (0, 1001):
            assert api.client.get(path, params={"limit": limit}, headers=api.headers("admin")).status_code == 422
    assert api.client.get("/api/users", params={"after_id": -1}, headers=api.headers("admin")).status_code == 422
