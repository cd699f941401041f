"""Property-based fuzzing of the API from its own /openapi.json: no 500s, every 4xx explains itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from equipoise.server import create_app
from equipoise.store.db import Database
from equipoise.store.migrate import upgrade
from tests.server.conftest import TRIAL, seed
from tests.store.support import PASSWORD


def _user_for(path: str) -> str:
    if path.startswith(("/api/users", "/api/audit", "/api/roles")) or path == "/api/trials":
        return "admin"
    if any(part in path for part in ("/adaptive-tables", "/unblind", "/replay", "/aggregates", "/notifications")):
        return "unblinded_stat"
    if "/queries" in path or path.endswith(("/lock", "/unlock")):
        return "monitor"
    if path.endswith("/sign"):
        return "investigator"
    if "/export" in path:
        return "unblinded_stat"
    return "coord"


def _fuzz(operation: Any, token: str, seen: dict[int, int]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def fuzz(case: Any) -> None:
        if case.path_parameters and "trial_id" in case.path_parameters:
            case.path_parameters["trial_id"] = TRIAL  # reach the rules behind the trial
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        case.validate_response(response, checks=[not_a_server_error])
        assert response.status_code < 500, f"{operation.label}: {response.text}"
        if 400 <= response.status_code < 500:
            body = response.json()
            assert isinstance(body.get("detail"), str), f"{operation.label}: {response.text}"
            assert body["detail"].strip(), f"{operation.label}: {response.text}"

    fuzz()


def test_api_never_fails_and_explains_every_refusal(tmp_path: Path):
    """Every operation in /openapi.json, fuzzed by Schemathesis as a role that reaches its rules."""
    db = Database(f"sqlite:///{tmp_path / 'equipoise.sqlite3'}")
    upgrade(db)
    seed(db)
    app = create_app(db)
    with TestClient(app) as client:
        tokens = {user: client.post("/api/auth/login", json={"username": user, "password": PASSWORD}).json()["token"]
                  for user in ("admin", "coord", "unblinded_stat", "monitor", "investigator")}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) > 20
    seen: dict[int, int] = {}
    for operation in operations:
        if operation.path != "/api/auth/logout":  # logout would end the sessions every other case uses
            _fuzz(operation, tokens[_user_for(operation.path)], seen)
    db.dispose()
    assert any(400 <= code < 500 for code in seen)
    assert any(code < 300 for code in seen)
