"""Fixtures for the simulate tests: the R reference values (computed by tests/reference/simulate_*.R)."""

import json
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "reference" / "fixtures"


def load_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def rpact_cases() -> dict[str, Any]:
    cases: dict[str, Any] = load_fixture("simulate_rpact.json")["cases"]
    return cases
