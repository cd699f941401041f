"""Site walls (ACC-2) and blinding walls (AUD-9): a reader whose roles are scoped to one hospital never reads
another hospital's patients, and a blinded reader never reads an arm, on any route of the API.

The role matrices check each endpoint by hand; this walks every GET route of ``/openapi.json``, so a route added
later is covered without anyone remembering to add it. Milan's patient gets a casebook of everything a site can
have (allocation with a kit code, a form, a query, a flag, an unblinding request, an off-study record, an
emergency envelope); then the PUMCH coordinator, investigator and a monitor scoped to PUMCH call every route,
with Milan's ids wherever a route takes one, and no answer may carry Milan's patient code, kit code or, outside
the trial's own description, Milan's site id.

The web pages get the same two walks in process (signed in through the sign-in page, no browser): every page route
with a patient code in its URL is a 404 for another site's coordinator and investigator, and no page a blinded
role reads names an arm.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import zipfile
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from equipoise.identity.principal import system_principal
from equipoise.identity.roles import Role
from equipoise.services.users import add_user, grant_role
from equipoise.store.models import patient_code
from tests.forms.conftest import Trial, World, site_date
from tests.store.support import PASSWORD

MILAN = "milan-sacco"
# routes that describe the trial itself (its sites included) or the caller, not any patient
DESCRIBE_THE_TRIAL = {"/api/trials", "/api/trials/{trial_id}", "/api/trials/{trial_id}/protocol",
                      "/api/trials/{trial_id}/forms/{form_id}/schema", "/api/auth/me"}
NOT_CALLED = {"/api/auth/oidc/login", "/api/auth/oidc/callback", "/health"}  # no trial data; need a provider
SITE_READERS = ("coord", "investigator", "monitor_pumch")


@pytest.fixture(scope="module")
def walled(world: World) -> World:
    """The module's world with a monitor of PUMCH only and an investigator of Milan (logged in once)."""
    operator = system_principal("test")
    for name in ("monitor_pumch", "investigator_milan"):  # their roles come with each trial
        add_user(world.db, operator, name, name.replace("_", " ").title(), PASSWORD)
        login = world.client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
        assert login.status_code == 200, login.text
        world.tokens[name] = login.json()["token"]
    return world


def _milan_casebook(world: World, t: Trial) -> dict[str, Any]:
    operator = system_principal("test")
    grant_role(world.db, operator, "monitor_pumch", Role.MONITOR, t.id, "pumch")
    grant_role(world.db, operator, "investigator_milan", Role.INVESTIGATOR, t.id, MILAN)
    t.patient()  # PUMCH has a patient too: its routes answer with data, just never Milan's
    pid = t.enrol("coord_milan", MILAN)
    allocation = t.randomize(pid, "coord_milan")
    form = t.form(pid, "clinical_status", "baseline")
    today = site_date(None, ZoneInfo("Europe/Rome")).isoformat()  # Milan's date
    saved = t.put(form, "coord_milan", {"values": {"assessment_date": today, "who_score": 5}})
    assert saved.status_code == 200, saved.text
    query = t.post("/queries", "monitor", {"patient_id": pid, "form_id": "clinical_status",
                                           "visit_id": "baseline", "text": "please check the score"})
    assert query.status_code == 201, query.text
    flag = t.post(f"/patients/{pid}/allocation/flags", "investigator_milan",
                  {"kind": "wrong-stratum", "reason": "severity keyed wrongly", "password": PASSWORD})
    assert flag.status_code == 201, flag.text
    asked = t.post(f"/patients/{pid}/unblinding-requests", "investigator_milan", {"reason": "SUSAR assessment"})
    assert asked.status_code == 201, asked.text
    envelopes = t.post("/emergency-envelopes", "unblinded_stat", {"site_id": MILAN, "count": 2, "password": PASSWORD})
    assert envelopes.status_code == 201, envelopes.text
    off = t.post(f"/patients/{pid}/off-study", "coord_milan", {"kind": "lost-to-follow-up",
                                                                "effective_date": today,
                                                                "reason": "moved away"})
    assert off.status_code == 201, off.text
    return {"patient_id": pid, "query_id": query.json()["id"], "request_id": asked.json()["id"],
            "form_id": "clinical_status", "visit_id": "baseline", "part_id": "none", "trial_id": t.id,
            "markers": {patient_code(pid), allocation["kit_code"],
                        *(e["kit_code"] for e in envelopes.json())}}


def _files(response: Any) -> dict[str, str]:
    """Everything an answer says: its body, or each file of a zip."""
    if response.headers.get("content-type", "").startswith("application/zip"):
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            return {name: archive.read(name).decode(errors="replace") for name in archive.namelist()}
    return {"body": str(response.text)}


def test_acc2_a_site_reader_reads_no_other_sites_patient_on_any_route(walled: World):
    t = walled.trial()
    milan = _milan_casebook(walled, t)
    markers = milan["markers"]
    routes = [path for path, ops in walled.client.get("/openapi.json").json()["paths"].items()
              if "get" in ops and path not in NOT_CALLED]
    assert len(routes) > 30, "the walk reads every GET route of the API"
    leaks = []
    for user in SITE_READERS:
        headers = walled.headers(user)
        for route in routes:
            path = route.format(**milan)
            response = walled.client.get(path, headers=headers, params={"trial_id": t.id, "limit": 1000}
                                         if route == "/api/audit" else None)
            assert response.status_code < 500, (user, path, response.text)
            files = _files(response)
            found = sorted(m for m in markers if any(m in text for text in files.values()))
            # the trial's description names every site, and so does an ODM file's metadata (its Locations)
            if route not in DESCRIBE_THE_TRIAL and any(MILAN in text for name, text in files.items()
                                                       if not (route.endswith("/export/odm") or name.endswith(".xml"))):
                found.append(MILAN)
            if found:
                leaks.append(f"{user} GET {path} -> {response.status_code}: {found}")
    assert not leaks, "another site's patient reached a site reader:\n" + "\n".join(leaks)
    # the walk is not vacuous: Milan's own coordinator finds its patient on the same routes
    own = walled.client.get(f"{t.base}/patients/{milan['patient_id']}", headers=walled.headers("coord_milan"))
    assert own.status_code == 200
    assert patient_code(milan["patient_id"]) in own.text
    trail = walled.client.get("/api/audit", params={"trial_id": t.id}, headers=walled.headers("monitor"))
    assert any(m in trail.text for m in markers)


BLINDED_READERS = ("coord", "investigator", "monitor", "blinded_stat", "pv")
ARMS = {"msc", "placebo"}


def _arms_named(value: Any, key: str = "") -> list[str]:
    """Arms a JSON answer gives under a key about arms (``arm``, ``arm_name``, ``arm_<part>``, ...)."""
    if isinstance(value, dict):
        return [a for k, v in value.items() for a in _arms_named(v, str(k))]
    if isinstance(value, list):
        return [a for v in value for a in _arms_named(v, key)]
    return [value] if "arm" in key.lower() and isinstance(value, str) and value in ARMS else []


def _arms_in_files(files: dict[str, str]) -> list[str]:
    """Arms in a JSON body, or in an export's CSV columns about arms (ODM's own check: test_exports.py)."""
    found = []
    for name, text in files.items():
        if name == "body":
            with contextlib.suppress(json.JSONDecodeError):  # an ODM file or a CSV list is not JSON
                found += _arms_named(json.loads(text))
        elif name.endswith(".csv"):
            rows = list(csv.DictReader(io.StringIO(text)))
            found += [f"{name}:{k}={v}" for r in rows for k, v in r.items() if k and "arm" in k and v in ARMS]
    return found


def test_aud9_a_blinded_reader_reads_no_arm_on_any_route(walled: World):
    t = walled.trial()
    milan = _milan_casebook(walled, t)
    routes = [path for path, ops in walled.client.get("/openapi.json").json()["paths"].items()
              if "get" in ops and path not in NOT_CALLED | DESCRIBE_THE_TRIAL]
    pumch = t.patient()
    leaks = []
    for user in BLINDED_READERS:
        ids = {**milan, "patient_id": pumch if user in ("coord", "investigator") else milan["patient_id"]}
        for route in routes:
            path = route.format(**ids)
            response = walled.client.get(path, headers=walled.headers(user), params={"trial_id": t.id, "limit": 1000}
                                         if route == "/api/audit" else None)
            assert response.status_code < 500, (user, path, response.text)
            found = _arms_in_files(_files(response))
            if found:
                leaks.append(f"{user} GET {path} -> {response.status_code}: {found[:5]}")
    assert not leaks, "an arm reached a blinded reader:\n" + "\n".join(leaks)
    # the walk is not vacuous: the unblinded statistician reads the arms on the same routes
    allocations = walled.client.get(f"{t.base}/allocations", headers=walled.headers("unblinded_stat"))
    assert _arms_in_files(_files(allocations))


# The web pages (equipoise.web) over the same services: the same walls, on every page route with a patient in its
# URL. They are not in /openapi.json (include_in_schema=False), so the walk reads the app's routes.
ARM_NAMES = ("UC-MSC infusion", "Placebo infusion")  # the demo arms' names, as a page would print them
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _get_paths(routes: list[Any]) -> list[str]:
    """GET paths of a list of routes, into included routers (FastAPI keeps those as routers; the page routers
    have no prefix)."""
    paths = []
    for route in routes:
        if isinstance(route, APIRoute) and "GET" in (route.methods or set()):
            paths.append(route.path)
        elif hasattr(route, "original_router"):
            paths += _get_paths(route.original_router.routes)
    return paths


def _page_routes(world: World) -> list[str]:
    """Every GET page route of a trial (the app's routes, whatever is added later)."""
    app: Any = world.client.app
    return sorted({p for p in _get_paths(app.routes) if p.startswith("/trials/{trial_id}")})


def _signed_in(world: World, user: str) -> TestClient:
    """A browser-like client of the module's app (its own cookies), signed in through the sign-in page."""
    client = TestClient(world.client.app, headers={"Accept": "text/html"})
    page = client.get("/")
    token = CSRF.search(page.text)
    assert token is not None, page.text
    done = client.post("/sign-in", data={"csrf_token": token.group(1), "username": user, "password": PASSWORD},
                       follow_redirects=False)
    assert done.status_code == 303, done.text
    return client


def test_acc2_a_site_reader_gets_404_for_another_sites_patient_on_every_page(walled: World):
    t = walled.trial()
    milan = _milan_casebook(walled, t)
    ids = {**milan, "code": patient_code(milan["patient_id"])}
    routes = _page_routes(walled)
    with_patient = [r for r in routes if "{code}" in r]
    assert len(with_patient) >= 3, routes  # the patient page, a form, the unblinding form
    leaks = []
    for user in ("coord", "investigator"):
        client = _signed_in(walled, user)
        for route in routes:
            path = route.format(**ids)
            response = client.get(path, follow_redirects=False)
            assert response.status_code < 500, (user, path, response.text)
            if route in with_patient and response.status_code != 404:
                leaks.append(f"{user} GET {path} -> {response.status_code}")
            found = sorted(m for m in milan["markers"] if m in response.text)
            if route not in with_patient and found:
                leaks.append(f"{user} GET {path} -> {response.status_code}: {found}")
    assert not leaks, "another site's patient reached a site reader's page:\n" + "\n".join(leaks)
    # not vacuous: Milan's own coordinator reads the same pages
    own = _signed_in(walled, "coord_milan")
    for route in with_patient:
        if not route.endswith("/unblind"):  # the unblinding form is for investigators
            assert own.get(route.format(**ids)).status_code == 200, route


def test_aud9_a_blinded_reader_sees_no_arm_on_any_page(walled: World):
    t = walled.trial()
    milan = _milan_casebook(walled, t)
    pumch = t.patient()
    routes = ["/trials", *_page_routes(walled)]
    leaks, shown = [], 0
    for user in BLINDED_READERS:
        pid = pumch if user in ("coord", "investigator") else milan["patient_id"]
        ids = {**milan, "patient_id": pid, "code": patient_code(pid)}
        client = _signed_in(walled, user)
        for route in routes:
            path = route.format(**ids)
            response = client.get(path)
            assert response.status_code < 500, (user, path, response.text)
            shown += response.status_code == 200
            found = [arm for arm in ARM_NAMES if arm in response.text]
            if found:
                leaks.append(f"{user} GET {path} -> {response.status_code}: {found}")
    assert not leaks, "an arm reached a blinded reader's page:\n" + "\n".join(leaks)
    assert shown >= 3 * len(BLINDED_READERS), "the walk read pages, not only refusals"
    # not vacuous: the unblinded statistician reads the arm on Milan's patient's page
    unblinded = _signed_in(walled, "unblinded_stat")
    page = unblinded.get(f"/trials/{t.id}/patients/{patient_code(milan['patient_id'])}")
    assert page.status_code == 200, page.text
    assert any(arm in page.text for arm in ARM_NAMES)
