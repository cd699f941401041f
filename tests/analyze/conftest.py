"""Reference values computed by R (tests/reference/analyze*.R) and the datasets they were computed on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "reference" / "fixtures"


@pytest.fixture(scope="session")
def ref() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "analyze.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def dataset() -> Any:
    cache: dict[str, pd.DataFrame] = {}

    def load(name: str) -> pd.DataFrame:
        if name not in cache:
            cache[name] = pd.read_csv(FIXTURES / f"analyze_{name}.csv")
        return cache[name].copy()

    return load


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
