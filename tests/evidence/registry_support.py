"""Shared paths and readers for the registry tests."""

from __future__ import annotations

import zipfile
from pathlib import Path

from equipoise.evidence.ctgov_parser import studies_in_json
from equipoise.evidence.ictrp_parser import rows_in_ictrp_csv, trials_in_ictrp_xml
from equipoise.evidence.registry_record import RecordProblem, RegistryRecord

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "evidence" / "registry"
DATA = Path(__file__).resolve().parent / "data"


def parsed(path: Path) -> list[RegistryRecord | RecordProblem]:
    if path.suffix == ".zip":
        out: list[RegistryRecord | RecordProblem] = []
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                out += studies_in_json(archive.read(name), name)
        return out
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return list(rows_in_ictrp_csv(handle, str(path)))
    if path.suffix == ".xml":
        with path.open("rb") as handle:
            return list(trials_in_ictrp_xml(handle, str(path)))
    return list(studies_in_json(path.read_bytes(), str(path)))


def records(path: Path) -> dict[str, RegistryRecord]:
    return {r.id: r for r in parsed(path) if isinstance(r, RegistryRecord)}


def problems(path: Path) -> list[RecordProblem]:
    return [r for r in parsed(path) if isinstance(r, RecordProblem)]
