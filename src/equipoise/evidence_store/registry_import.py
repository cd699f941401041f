"""Import registry files into the store: stream, parse, batch, upsert; one transaction per file.

A malformed record is reported (file, entry or line, id) and skipped; the file's other records are written.
Each file's records reach the store in one transaction (``RegistryStore.merge_staged``), so an interruption leaves
the store as it was before that file. Memory stays bounded: records are parsed one at a time and staged in
batches of ``BATCH_SIZE``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from equipoise.evidence.registry_record import RecordProblem
from equipoise.evidence_store.registry_files import RegistryFile, open_registry_file
from equipoise.evidence_store.registry_store import RegistryStore, UpsertCounts, row_of

BATCH_SIZE = 5_000


class ImportProgress(Protocol):
    """What the importer tells a progress bar: a file starts (with its entry count if known), records advance."""

    def start_file(self, name: str, total: int | None) -> None: ...

    def advance(self, count: int) -> None: ...


@dataclass
class FileImport:
    file: str
    format: str
    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_stored: int = 0
    problems: list[RecordProblem] = field(default_factory=list)

    def add(self, counts: UpsertCounts) -> None:
        self.new += counts.new
        self.updated += counts.updated
        self.unchanged += counts.unchanged
        self.kept_stored += counts.kept_stored

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "format": self.format, "records_read": self.read, "new": self.new,
                "updated": self.updated, "unchanged": self.unchanged, "kept_stored": self.kept_stored,
                "skipped": len(self.problems), "problems": [p.to_dict() for p in self.problems]}

    def __str__(self) -> str:
        line = (f"{self.file} ({self.format}): {self.read} record(s) read: {self.new} new, {self.updated} updated, "
                f"{self.unchanged} unchanged, {self.kept_stored} older or a registry copy (stored one kept), "
                f"{len(self.problems)} skipped")
        return "\n".join([line, *(f"  skipped {p}" for p in self.problems)])


@dataclass(frozen=True)
class ImportReport:
    store: str
    files: tuple[FileImport, ...]
    records_in_store: int

    @property
    def skipped(self) -> int:
        return sum(len(f.problems) for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {"store": self.store, "files": [f.to_dict() for f in self.files],
                "records_in_store": self.records_in_store, "skipped": self.skipped}

    def __str__(self) -> str:
        return "\n".join([*(str(f) for f in self.files),
                          f"{self.store}: {self.records_in_store} record(s) in the store"])


class _NoProgress:
    def start_file(self, name: str, total: int | None) -> None:
        pass

    def advance(self, count: int) -> None:
        pass


def import_files(paths: Sequence[Path], store: RegistryStore, progress: ImportProgress | None = None,
                 batch_size: int = BATCH_SIZE) -> ImportReport:
    """Import every file (all are recognised first, so a wrong name fails before anything is written)."""
    files = [open_registry_file(path) for path in paths]
    bar = progress or _NoProgress()
    reports = [_import_one(file, store, bar, batch_size) for file in files]
    return ImportReport(str(store.path), tuple(reports), store.count())


def _import_one(file: RegistryFile, store: RegistryStore, bar: ImportProgress, batch_size: int) -> FileImport:
    report = FileImport(str(file.path), file.format)
    bar.start_file(file.path.name, file.entries)
    pending: list[tuple[Any, ...]] = []
    batches = 0
    try:
        for item in file.records():
            bar.advance(1)
            if isinstance(item, RecordProblem):
                report.problems.append(item)
                continue
            report.read += 1
            pending.append(row_of(item, str(file.path)))
            if len(pending) >= batch_size:
                batches += 1
                store.stage(pending, batches)
                pending = []
        store.stage(pending, batches + 1)
        report.add(store.merge_staged())
    except BaseException:
        store.clear_staging()
        raise
    return report
