"""Reading tests/reference/fixtures/meta.json (written by tests/reference/meta.R with metafor and metadat)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from equipoise.evidence.effect_sizes import AddTo, Measure, ZeroCellRule
from equipoise.evidence.pooled import Method
from equipoise.evidence.study_table import DataKind, StudyTable

FIXTURE = Path(__file__).resolve().parents[1] / "reference" / "fixtures" / "meta.json"
ITERATIVE = {Method.REML, Method.ML, Method.PM, Method.EB}


@cache
def fixture() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return data


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def table(name: str) -> StudyTable:
    ds = next(d for d in fixture()["datasets"] if d["name"] == name)
    values = {c: np.asarray(_list(v), dtype=float) for c, v in ds["values"].items()}
    years = None if ds.get("year") is None else tuple(None if y is None else float(y)
                                                           for y in _list(ds["year"]))
    groups = None if ds.get("group") is None else tuple(str(g) for g in _list(ds["group"]))
    return StudyTable(DataKind(ds["kind"]), tuple(str(s) for s in _list(ds["study"])), values, years, groups)


def case_rule(case: dict[str, Any], method: Method) -> ZeroCellRule | None:
    drop00 = case["drop00"]
    if case["to"] == "only0" and case["add"] == 0.5 and drop00 is None:
        return None
    default_drop = method in (Method.MH, Method.PETO)
    return ZeroCellRule(float(case["add"]), AddTo(case["to"]), default_drop if drop00 is None else bool(drop00))


def case_id(case: dict[str, Any]) -> str:
    extra = "" if case["to"] == "only0" and case["add"] == 0.5 and case["drop00"] is None else \
        f"-{case['to']}-add{case['add']}-drop00{case['drop00']}"
    return f"{case['dataset']}-{case['measure']}-{case['method']}{'-knha' if case['hksj'] else ''}{extra}"


def method_of(case: dict[str, Any]) -> Method:
    return Method.PETO if case["method"] == "Peto" else Method(case["method"])


def measure_of(case: dict[str, Any]) -> Measure:
    return Measure(case["measure"])
