"""Fixtures for the design tests: the JSON written by tests/reference/design.R (rpact 3.3.4)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

FIXTURES = Path(__file__).resolve().parents[1] / "reference" / "fixtures"


@cache
def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def present(value: Any) -> Any:
    """The value, which must not be None (results have optional fields; the test knows they are set)."""
    assert value is not None
    return value
