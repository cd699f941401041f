"""Role × endpoint matrix of the form, query, lock, signature and export endpoints (the server's matrix in
tests/server/test_role_matrix.py covers the core endpoints the same way).

Every role gets exactly what it may: the site answers queries and enters data, the monitor raises and closes
queries and locks, the investigator signs, exports are per site and arms only for the unblinded roles. The
Milan coordinator is told that a PUMCH patient does not exist (404), never that it exists elsewhere.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from tests.forms.conftest import Trial, World
from tests.server.conftest import USERS
from tests.store.support import PASSWORD

ROLES = list(USERS)
VIEWERS = {"coord", "investigator", "monitor", "blinded_stat", "unblinded_stat", "dmc"}
SITE = {"coord", "investigator"}
EXPORTERS = VIEWERS | {"coord_milan"}
ARMS = {"msc", "placebo"}
CLINICAL = {"values": {"assessment_date": "2020-03-20", "who_score": 5}}

ALLOWED: dict[str, set[str]] = {
    "forms": VIEWERS, "schedule": VIEWERS, "form": VIEWERS, "history": VIEWERS, "signatures": VIEWERS,
    "tracking": VIEWERS | {"coord_milan"},
    "save": SITE, "change": SITE, "not-done": SITE,
    "lock-form": {"monitor"}, "unlock-form": {"monitor"}, "lock-patient": {"monitor"}, "unlock-patient": {"monitor"},
    "sign-form": {"investigator"}, "sign-casebook": {"investigator"},
    "raise-query": {"monitor"}, "queries": {"coord", "coord_milan", "investigator", "monitor"},
    "query": {"coord", "investigator", "monitor"}, "answer": SITE, "close": {"monitor"}, "reopen": {"monitor"},
    "export": EXPORTERS, "export-unblinded": {"unblinded_stat", "dmc"}, "export-odm": EXPORTERS,
}
# The Milan coordinator does not learn that PUMCH patients and their queries exist.
NOT_FOUND = {("coord_milan", e) for e in ("forms", "schedule", "form", "history", "signatures", "save", "change",
                                          "not-done", "query", "answer")}


class Matrix:
    """Fresh targets for each call, so that one role's success never changes what the next role meets."""

    def __init__(self, trial: Trial) -> None:
        self.t = trial
        self.pid = self.patient_with_form()

    def patient_with_form(self) -> int:
        pid = self.t.patient()
        assert self.t.put(self.t.form(pid, "clinical_status", "baseline"), "coord", CLINICAL).status_code == 200
        return pid

    def query(self, answered: bool = False) -> int:
        qid = int(self.t.post("/queries", "monitor", {"patient_id": self.pid, "form_id": "clinical_status",
                                                      "visit_id": "baseline", "text": "check"}).json()["id"])
        if answered:
            self.t.post(f"/queries/{qid}/answer", "coord", {"text": "checked"})
        return qid

    def call(self, user: str, endpoint: str) -> Any:
        t, pid = self.t, self.pid
        form = t.form(pid, "clinical_status", "baseline")
        sign = {"meaning": "review", "password": PASSWORD, "username": user}

        def fresh_form() -> str:
            return t.form(self.patient_with_form(), "clinical_status", "baseline")

        def locked_form() -> str:
            url = fresh_form()
            assert t.post(f"{url}/lock", "monitor").status_code == 200
            return url

        def locked_patient() -> int:
            other = self.patient_with_form()
            assert t.post(f"/patients/{other}/lock", "monitor").status_code == 200
            return other

        calls: dict[str, Callable[[], Any]] = {
            "forms": lambda: t.get(f"/patients/{pid}/forms", user),
            "schedule": lambda: t.get(f"/patients/{pid}/schedule", user),
            "form": lambda: t.get(form, user),
            "history": lambda: t.get(f"{form}/history", user),
            "signatures": lambda: t.get(f"/patients/{pid}/signatures", user),
            "tracking": lambda: t.get("/tracking", user),
            "save": lambda: t.put(t.form(pid, "imaging", "baseline"), user,
                                  {"values": {"ct_date": "2020-03-20"}, "reason": f"by {user}"}),
            "change": lambda: t.patch(fresh_form(), user, {"values": {"who_score": 6}, "reason": "typo"}),
            "not-done": lambda: t.post(t.form(self.patient_with_form(), "infusion", "baseline") + "/not-done", user,
                                       {"reason": "not given"}),
            "lock-form": lambda: t.post(f"{fresh_form()}/lock", user),
            "unlock-form": lambda: t.post(f"{locked_form()}/unlock", user, {"reason": "correction"}),
            "lock-patient": lambda: t.post(f"/patients/{self.patient_with_form()}/lock", user),
            "unlock-patient": lambda: t.post(f"/patients/{locked_patient()}/unlock", user, {"reason": "correction"}),
            "sign-form": lambda: t.post(f"{fresh_form()}/sign", user, sign),
            "sign-casebook": lambda: t.post(f"/patients/{self.patient_with_form()}/sign", user, sign),
            "raise-query": lambda: t.post("/queries", user, {"patient_id": pid, "form_id": "clinical_status",
                                                             "visit_id": "baseline", "text": "check"}),
            "queries": lambda: t.get("/queries", user),
            "query": lambda: t.get(f"/queries/{self.query()}", user),
            "answer": lambda: t.post(f"/queries/{self.query()}/answer", user, {"text": "done"}),
            "close": lambda: t.post(f"/queries/{self.query(answered=True)}/close", user),
            "reopen": lambda: t.post(f"/queries/{self.query(answered=True)}/reopen", user, {"text": "not yet"}),
            "export": lambda: t.get("/export", user, params={"format": "csv"}),
            "export-unblinded": lambda: t.get("/export", user, params={"format": "csv", "unblinded": True}),
            "export-odm": lambda: t.get("/export/odm", user),
        }
        return calls[endpoint]()


def _json_arms(data: Any) -> list[str]:
    leaks: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("arm", "arm_name") and value not in (None, "masked"):
                leaks.append(f"{key}={value!r}")
            leaks += _json_arms(value)
    elif isinstance(data, list):
        for item in data:
            leaks += _json_arms(item)
    return leaks


def _export_arms(content: bytes) -> set[str]:
    archive = zipfile.ZipFile(io.BytesIO(content))
    arms: set[str] = set()
    for name in ("allocations.csv", "analysis.csv"):
        arms |= {row["arm"] for row in csv.DictReader(io.StringIO(archive.read(name).decode()))}
    return arms


@pytest.fixture(scope="module")
def matrix(world: World) -> Matrix:
    return Matrix(world.trial())


@pytest.mark.parametrize("endpoint", list(ALLOWED))
def test_role_endpoint_matrix_of_forms_queries_locks_signatures_exports(matrix: Matrix, endpoint: str):
    for user in ROLES:
        response = matrix.call(user, endpoint)
        if user in ALLOWED[endpoint]:
            assert response.status_code < 300, f"{user} {endpoint}: {response.status_code} {response.text}"
        else:
            expected = 404 if (user, endpoint) in NOT_FOUND else 403
            assert response.status_code == expected, f"{user} {endpoint}: {response.status_code} {response.text}"
            assert response.json()["detail"], f"{user} {endpoint}: no reason given"
            continue
        content_type = response.headers["content-type"]
        if content_type.startswith("application/json"):
            assert _json_arms(response.json()) == [], f"{user} {endpoint} shows an arm"
        elif content_type == "application/zip":
            expected_arms = ARMS if endpoint == "export-unblinded" else {"masked"}
            assert _export_arms(response.content) <= expected_arms, f"{user} {endpoint}"
        else:
            assert b'<ItemData ItemOID="IT.RANDOMIZATION.arm"' not in response.content, f"{user} {endpoint}"
