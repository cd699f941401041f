"""Site walls (ACC-2) and blinding walls (AUD-9): a reader whose roles are scoped to one hospital never reads
another hospital's patients, and a blinded reader never reads an arm, on any route of the API.

The role matrices check each endpoint by hand; this walks every GET route of ``/openapi.json``, so a route added
later is covered without anyone remembering to add it. Milan's patient gets a casebook of everything a site can
have (allocation with a kit code, a form, a query, a flag, an unblinding request, an off-study record, an
emergency envelope); then the PUMCH coordinator, investigator and a monitor scoped to PUMCH call every route,
with Milan's ids wherever a route takes one, and no answer may carry Milan's patient code, kit code or, outside
the trial's own description, Milan's site id.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import zipfile
from typing import Any
from zoneinfo import ZoneInfo

import pytest

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
