"""The files the public pages read: the example protocols of the seed story and the evidence CSV (one row per
randomized trial: study, year, events and patients per arm, the columns of ``equipoise evidence meta``).

The evidence CSV is ``examples/evidence/msc-covid-mortality.csv`` unless the server sets
``EQUIPOISE_EVIDENCE_CSV`` to another file with the same columns.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from equipoise.errors import InvalidError
from equipoise.evidence.certainty import TrialBias, parse_bias, trial_bias
from equipoise.evidence.study_table import BINARY_COLUMNS, DataKind, StudyTable

EVIDENCE_ENV = "EQUIPOISE_EVIDENCE_CSV"
# the repository's examples (an editable install: src/equipoise/web -> the repository), else the working folder
_REPOSITORY_EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
EXAMPLES = _REPOSITORY_EXAMPLES if _REPOSITORY_EXAMPLES.is_dir() else Path("examples")


def evidence_csv() -> Path:
    configured = os.environ.get(EVIDENCE_ENV)
    return Path(configured) if configured else EXAMPLES / "evidence" / "msc-covid-mortality.csv"


def _count(path: Path, line: int, column: str, text: str | None) -> float:
    try:
        value = float((text or "").strip())
    except ValueError:
        raise InvalidError(f"{path}, line {line}, column {column}: {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise InvalidError(f"{path}, line {line}, column {column}: {text!r} is not a count")
    return value


def read_binary_trials(path: Path) -> StudyTable:
    """Trials with events and patients per arm (a clear error naming file, line and column otherwise)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle, skipinitialspace=True))
    except FileNotFoundError:
        raise InvalidError(f"{path}: file not found (set {EVIDENCE_ENV} to the evidence CSV)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidError(f"{path}: not a readable CSV file ({exc})") from None
    missing = [c for c in ("study", *BINARY_COLUMNS) if not rows or c not in rows[0]]
    if missing:
        raise InvalidError(f"{path}: no trials, or no column {', '.join(missing)}")
    values = {c: np.asarray([_count(path, i + 2, c, r.get(c)) for i, r in enumerate(rows)], dtype=float)
              for c in BINARY_COLUMNS}
    years: list[float | None] = []
    for i, r in enumerate(rows):
        text = (r.get("year") or "").strip()
        years.append(_count(path, i + 2, "year", text) if text else None)
    return StudyTable(DataKind.BINARY, tuple((r.get("study") or "").strip() or f"trial {i + 1}"
                                             for i, r in enumerate(rows)), values, tuple(years))


_TRUE = {"yes", "y", "true", "t", "1"}
_FALSE = {"no", "n", "false", "f", "0"}


def _flag(text: str | None) -> bool | None:
    t = (text or "").strip().lower()
    return True if t in _TRUE else False if t in _FALSE else None


def read_trial_bias(path: Path) -> list[TrialBias]:
    """Each trial's risk of bias from its ``risk_of_bias`` (low/some/high) or ``randomized``, ``concealed``,
    ``blinded`` (yes/no, empty when not reported) columns, as ``equipoise evidence certainty`` reads them."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle, skipinitialspace=True))
    return [trial_bias((r.get("study") or "").strip(), stated=parse_bias((r.get("risk_of_bias") or "").strip()),
                       randomized=_flag(r.get("randomized")), concealed=_flag(r.get("concealed")),
                       blinded=_flag(r.get("blinded"))) for r in rows]
