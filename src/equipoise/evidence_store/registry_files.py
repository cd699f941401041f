"""Registry export files -> a stream of parsed records and problems, one record in memory at a time.

Formats, recognised by the file's first bytes (then its suffix): a ZIP of ClinicalTrials.gov's bulk download (one
JSON study per entry, read entry by entry), a ClinicalTrials.gov JSON document (one study or a page of a search),
a WHO ICTRP CSV export (read row by row) and a WHO ICTRP XML export (read ``<Trial>`` by ``<Trial>``).
A JSON document is read whole: an API page holds at most 1,000 studies; bulk downloads come as ZIPs.
"""

from __future__ import annotations

import csv
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from equipoise.errors import UserError
from equipoise.evidence.ctgov_parser import studies_in_json
from equipoise.evidence.ictrp_parser import rows_in_ictrp_csv, trials_in_ictrp_xml
from equipoise.evidence.registry_record import RecordProblem, RegistryRecord

Parsed = RegistryRecord | RecordProblem
CSV_FIELD_LIMIT = 16 * 2**20  # ICTRP's results and criteria cells can pass csv's default limit of 128 KiB


@dataclass(frozen=True)
class RegistryFile:
    """A file to import: its path, its format and, when known before reading, how many entries it holds."""

    path: Path
    format: str
    entries: int | None

    def records(self) -> Iterator[Parsed]:
        name = str(self.path)
        if self.format == "zip":
            yield from _zip_records(self.path)
        elif self.format == "json":
            yield from studies_in_json(self.path.read_bytes(), name)
        elif self.format == "csv":
            csv.field_size_limit(CSV_FIELD_LIMIT)
            # a byte that is not UTF-8 becomes U+FFFD in its cell: one bad character must not cost a whole export
            with self.path.open(encoding="utf-8-sig", newline="", errors="replace") as handle:
                yield from rows_in_ictrp_csv(handle, name)
        else:
            with self.path.open("rb") as handle:
                yield from trials_in_ictrp_xml(handle, name)


def open_registry_file(path: Path) -> RegistryFile:
    """Recognise a file's format; a missing, unreadable or unknown file is a ``UserError``."""
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if path.is_dir():
        raise UserError(f"{path}: is a directory; give the export files themselves")
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror})") from None
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    suffix = path.suffix.lower()
    if head.startswith(b"PK"):
        return RegistryFile(path, "zip", _zip_entry_count(path))
    if start[:1] in {b"{", b"["}:
        return RegistryFile(path, "json", None)
    if start[:1] == b"<":
        return RegistryFile(path, "xml", None)
    if suffix == ".csv" or b"trialid" in head.lower().replace(b" ", b"").replace(b"_", b""):
        return RegistryFile(path, "csv", None)
    raise UserError(f"{path}: not a registry export this version reads (ClinicalTrials.gov v2 JSON or its bulk ZIP, "
                    f"WHO ICTRP CSV or XML)")


def _zip_records(path: Path) -> Iterator[Parsed]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        yield RecordProblem(str(path), None, f"not a readable ZIP file ({exc})")
        return
    with archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.lower().endswith(".json"):
                continue
            where = f"{path}:{info.filename}"
            try:
                data = archive.read(info)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
                # a damaged entry is reported; the rest of the archive is still read
                yield RecordProblem(where, Path(info.filename).stem, f"entry cannot be read ({exc})")
                continue
            yield from studies_in_json(data, where)


def _zip_entry_count(path: Path) -> int:
    """How many entries a ZIP holds (the progress bar's total), from its end-of-central-directory record.

    Reading the whole central directory (``zipfile.ZipFile``) to count the entries took a tenth of a bulk import's
    time, and the import reads it again; the end record (ZIP64's beyond 65,535 entries) states the count. Any
    surprise falls back to reading the directory; an unreadable ZIP is a ``UserError``.

    References
    ----------
    PKWARE, APPNOTE.TXT 6.3.10, sections 4.3.14-4.3.16 (zip64 end of central directory record and locator, end of
    central directory record).
    """
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - 65_557))  # the end record (22 bytes) and a comment of at most 65,535
            tail = handle.read()
            end = tail.rfind(b"PK\x05\x06")
            if end >= 0 and len(tail) >= end + 22:
                count = int(struct.unpack_from("<H", tail, end + 10)[0])
                if count != 0xFFFF:
                    return count
                locator = end - 20
                if locator >= 0 and tail[locator:locator + 4] == b"PK\x06\x07":
                    offset = int(struct.unpack_from("<Q", tail, locator + 8)[0])
                    handle.seek(offset)
                    record = handle.read(40)
                    if record[:4] == b"PK\x06\x06" and len(record) == 40:
                        return int(struct.unpack_from("<Q", record, 32)[0])
        with zipfile.ZipFile(path) as archive:
            return len(archive.infolist())
    except (zipfile.BadZipFile, OSError, struct.error) as exc:
        raise UserError(f"{path}: not a readable ZIP file ({exc})") from None
