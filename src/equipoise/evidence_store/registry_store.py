"""Registry records in one embedded DuckDB file: versioned upserts, look-up by id, search.

One row per trial id. A record replaces the stored one only when it is newer (its ``last_update`` is later), or
comes from the trial's own registry where the stored copy came through WHO ICTRP (ICTRP's "last refreshed"
date is when ICTRP copied the record, not when the trial changed); so re-importing the same files changes
nothing, and the row keeps the version it holds. Each batch is written inside the caller's transaction.

The table has no PRIMARY KEY: DuckDB maintains an ART index row by row, which would slow a 550,000-study import
several-fold, and the upsert below keeps ids unique on its own (look-ups by id scan a column, in milliseconds).

References
----------
DuckDB documentation, "Transaction Management" and "Indexes" (ART index limitations),
https://duckdb.org/docs/sql/indexes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from equipoise.errors import UserError
from equipoise.evidence.registry_linking import SYNONYMS, normalised_sponsor
from equipoise.evidence.registry_record import RegistryRecord
from equipoise.evidence.registry_summary import TrialFacts

DEFAULT_STORE = Path("equipoise-evidence.duckdb")
SCHEMA_VERSION = "1"
MEMORY_LIMIT = "512MB"
COLUMNS = (
    ("id", "VARCHAR"), ("registry", "VARCHAR"), ("source_format", "VARCHAR"), ("source_rank", "INTEGER"),
    ("version", "VARCHAR"), ("title", "VARCHAR"), ("status", "VARCHAR"), ("randomized", "BOOLEAN"),
    ("controlled", "BOOLEAN"), ("blinded", "BOOLEAN"), ("single_arm", "BOOLEAN"), ("design", "VARCHAR"),
    ("design_class", "VARCHAR"), ("control", "VARCHAR"), ("enrollment", "INTEGER"), ("countries", "VARCHAR"),
    ("sponsor_key", "VARCHAR"), ("secondary_ids", "VARCHAR"), ("condition_text", "VARCHAR"),
    ("intervention_text", "VARCHAR"), ("source_file", "VARCHAR"), ("record_json", "VARCHAR"),
    ("record_hash", "VARCHAR"),
)
ARROW_TYPES: dict[str, pa.DataType] = {"VARCHAR": pa.string(), "INTEGER": pa.int32(), "BOOLEAN": pa.bool_()}
ROW_COLUMNS = [name for name, _ in COLUMNS if name != "record_hash"]  # what ``row_of`` gives, in order
ARROW_SCHEMA = pa.schema([(name, ARROW_TYPES[kind]) for name, kind in COLUMNS if name != "record_hash"])
DESIGNS = ("single-arm", "parallel", "crossover", "factorial", "sequential", "observational")


# Words every match of each ``SYNONYMS`` pattern contains: a pattern is applied only to text holding one of them
# (a substring test costs nanoseconds, a regular expression scan of a title microseconds).
_SYNONYM_WORDS = (("cov", "corona", "ncp"), ("mesenchymal", "msc"), ("umbilical", "uc"))
assert len(_SYNONYM_WORDS) == len(SYNONYMS)
_SYNONYM_PATTERNS = tuple((words, re.compile(pattern, re.ASCII), replacement)
                          for words, (pattern, replacement) in zip(_SYNONYM_WORDS, SYNONYMS, strict=True))
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_ASCII_NOT_ALNUM = bytes(c if chr(c).isdigit() or "a" <= chr(c) <= "z" else 32 for c in range(256))


def normalised_text(low: str) -> str:
    """The normalised form of lower-case text: COVID-19 and MSC spellings made one (``SYNONYMS``, the patterns
    ``query_terms`` applies to a search word), anything not a letter or digit a space. Each pattern runs only
    where its words occur (``_SYNONYM_WORDS``), ASCII text goes through ``bytes.translate``: DuckDB's
    regexp_replace chain gave the same text (checked on the example records and 3,000 random strings) at twice
    the cost."""
    for words, pattern, replacement in _SYNONYM_PATTERNS:
        for word in words:
            if word in low:
                low = pattern.sub(replacement, low)
                break
    if low.isascii():
        return " ".join(low.encode("ascii").translate(_ASCII_NOT_ALNUM).decode("ascii").split())
    return " ".join(_NOT_ALNUM.sub(" ", low).split())


def search_text(*parts: str | None) -> str:
    """Lower-case text for substring search, then ``' || '`` and its normalised form (``normalised_text``)."""
    low = " | ".join(p.lower() for p in parts if p)
    return f"{low} || {normalised_text(low)}"


def _insert_expression(name: str) -> str:
    if name == "record_hash":  # versions are compared on a hash, not on the whole JSON of both sides
        return "md5(i.record_json)"
    return f"i.{name}"


INSERT_COLUMNS = ", ".join(_insert_expression(name) for name, _ in COLUMNS)


def query_terms(text: str) -> list[str]:
    """A search word and its normalised form ("covid-19" -> "covid-19", "covid19"); a row matches either."""
    low = text.strip().lower()
    return list(dict.fromkeys(t for t in (low, normalised_text(low)) if t))


def row_of(record: RegistryRecord, source_file: str) -> tuple[Any, ...]:
    """A record as the store's row: the values of ``COLUMNS`` in order, without ``record_hash`` (computed by
    DuckDB). A tuple, not a dict: a batch is transposed into Arrow columns (``stage``) in one pass. The record's
    JSON stays UTF-8 bytes: Arrow takes bytes as they are, where it re-encodes a ``str`` (4x slower)."""
    c = record.classification
    return (
        record.id, record.registry, record.source_format, source_rank(record), record.last_update or "",
        record.title, record.status or record.status_text, c.randomized, c.controlled, c.blinded, c.single_arm,
        c.design, c.design_class, c.control, record.enrollment, "; ".join(record.countries),
        " ".join(sorted(normalised_sponsor(record.sponsor))), " ".join(record.secondary_ids),
        search_text(*record.conditions, record.title, record.official_title),
        search_text(*record.interventions, *(a.label for a in record.arms), record.title, record.official_title),
        source_file, orjson.dumps(record.to_dict()),
    )


def source_rank(record: RegistryRecord) -> int:
    """1 when the record comes from the trial's own registry in its own format, 0 for a copy through ICTRP."""
    return 0 if record.source_format == "ictrp" and record.registry == "ClinicalTrials.gov" else 1


@dataclass(frozen=True)
class UpsertCounts:
    new: int
    updated: int
    unchanged: int
    kept_stored: int


def _first(connection: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    """The first row of a statement's result, reading the result to its end (DuckDB 2 refuses the next statement
    on a connection whose last result was not read through)."""
    rows = connection.execute(sql, list(params)).fetchall()
    return rows[0] if rows else None


class RegistryStore:
    """The evidence store file; use as a context manager (``with RegistryStore.open(path) as store``)."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.connection = connection
        self.path = path

    @classmethod
    def open(cls, path: Path, *, create: bool = True) -> RegistryStore:
        if not create and not path.exists():
            raise UserError(f"{path}: no evidence store here (import records first: equipoise evidence import FILE "
                            f"--store {path})")
        if path.exists() and path.is_dir():
            raise UserError(f"{path}: is a directory, not an evidence store file")
        try:
            # A bounded buffer pool: a file's import is one transaction, and DuckDB spills its pending rows to a
            # temporary file beyond this limit instead of holding a whole registry in memory.
            connection = duckdb.connect(str(path), config={"memory_limit": MEMORY_LIMIT})
        except (duckdb.IOException, duckdb.InvalidInputException, duckdb.SerializationException) as exc:
            raise UserError(f"{path}: cannot open the evidence store ({str(exc).splitlines()[0]})") from None
        store = cls(connection, path)
        store._ensure_schema()
        return store

    def __enter__(self) -> RegistryStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.connection.close()

    def _ensure_schema(self) -> None:
        columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
        self.connection.execute(f"CREATE TABLE IF NOT EXISTS registry_records ({columns})")
        # Staging is a temporary table: it lives in DuckDB's buffer pool (spilled to a temporary file beyond
        # MEMORY_LIMIT), is never written to the store file, and vanishes with the connection, so an interrupted
        # import leaves nothing behind. A staging table in the store file doubled the file (114 MiB instead of 57
        # at 50,000 studies: DuckDB does not give back the blocks of deleted rows) for the same peak memory and
        # CPU. A store written by an older Equipoise may hold a persistent one.
        self.connection.execute("DROP TABLE IF EXISTS main.import_staging")
        self.connection.execute("CREATE TEMP TABLE IF NOT EXISTS import_staging (" + columns
                                + ", batch_number INTEGER)")
        self.connection.execute("CREATE TABLE IF NOT EXISTS store_info (key VARCHAR, value VARCHAR)")
        found = _first(self.connection, "SELECT value FROM store_info WHERE key = 'schema_version'")
        if found is None:
            _first(self.connection, "INSERT INTO store_info VALUES ('schema_version', ?)", [SCHEMA_VERSION])
        elif found[0] != SCHEMA_VERSION:
            raise UserError(f"{self.path}: evidence store schema version {found[0]}, this Equipoise reads "
                            f"{SCHEMA_VERSION}; import the records into a new store")

    # Writing ---------------------------------------------------------------------------------------------------
    # A file is imported in two steps. Its batches are appended to ``import_staging``, each batch committed on its
    # own (DuckDB keeps a transaction's pending appends in memory, so one transaction per 550,000-study file grew
    # without bound). Then ``merge_staged`` moves them into ``registry_records`` in one transaction, as one set
    # operation that DuckDB writes straight to the file. An interrupted import leaves rows only in the staging
    # table, a temporary one that goes with the connection: the records table never holds half a file.

    def stage(self, rows: Sequence[tuple[Any, ...]], batch_number: int) -> None:
        """Append a batch of rows (``row_of``) to the staging table, in its own transaction."""
        if not rows:
            return
        columns = list(zip(*rows, strict=True))
        batch = pa.Table.from_arrays([pa.array(values, type=ARROW_SCHEMA.field(k).type)
                                      for k, values in enumerate(columns)], names=ROW_COLUMNS)
        self.connection.register("incoming", batch)
        try:
            self.connection.execute(f"INSERT INTO import_staging SELECT {INSERT_COLUMNS}, ? FROM incoming i",
                                    [batch_number]).fetchall()
        finally:
            self.connection.unregister("incoming")

    def clear_staging(self) -> None:
        self.connection.execute("DELETE FROM import_staging").fetchall()

    def merge_staged(self) -> UpsertCounts:
        """Move the staged rows into the records, in one transaction: per id the best staged row (the trial's own
        registry first, then the newest version, then the last read) replaces the stored one only if it is newer
        or better; returns what happened to each staged row. Every step that sorts or hashes reads only the small
        columns (id, rank, version, hash): a 550,000-study merge must fit the bounded buffer pool."""
        con = self.connection
        better = ("(i.source_rank > r.source_rank OR (i.source_rank = r.source_rank AND "
                  "(i.version > r.version OR i.version = '' OR r.version = '') AND i.record_hash <> r.record_hash))")
        con.execute("BEGIN TRANSACTION")
        try:
            counted = _first(con, "SELECT count(*), count(DISTINCT id) FROM import_staging")
            assert counted is not None
            staged, distinct = int(counted[0]), int(counted[1])
            if distinct < staged:  # the same id more than once in a file: keep its best row
                _first(con, """DELETE FROM import_staging WHERE rowid IN (
                    SELECT rowid FROM (SELECT rowid, row_number() OVER (PARTITION BY id ORDER BY source_rank DESC,
                                       version DESC, batch_number DESC, rowid DESC) AS rank FROM import_staging)
                    WHERE rank > 1)""")
            found = _first(con, f"""
                SELECT count(*) FILTER (WHERE r.id IS NULL),
                       count(*) FILTER (WHERE r.id IS NOT NULL AND {better}),
                       count(*) FILTER (WHERE r.id IS NOT NULL AND i.version = r.version
                                        AND i.source_rank = r.source_rank AND NOT {better})
                FROM (SELECT id, source_rank, version, record_hash FROM import_staging) i
                LEFT JOIN (SELECT id, source_rank, version, record_hash FROM registry_records) r ON r.id = i.id""")
            assert found is not None
            new, updated, unchanged = (int(v) for v in found)
            _first(con, f"""DELETE FROM registry_records WHERE id IN (
                SELECT i.id FROM (SELECT id, source_rank, version, record_hash FROM import_staging) i
                JOIN (SELECT id, source_rank, version, record_hash FROM registry_records) r ON r.id = i.id
                WHERE {better})""")
            _first(con, """INSERT INTO registry_records SELECT i.* EXCLUDE (batch_number) FROM import_staging i
                           WHERE i.id NOT IN (SELECT id FROM registry_records)""")
            _first(con, "DELETE FROM import_staging")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return UpsertCounts(new, updated, unchanged, staged - new - updated - unchanged)

    # Reading ---------------------------------------------------------------------------------------------------

    def count(self) -> int:
        found = _first(self.connection, "SELECT count(*) FROM registry_records")
        return int(found[0]) if found else 0

    def get(self, record_id: str) -> tuple[RegistryRecord, str, str] | None:
        """The record, the version it holds and the file it came from; ``None`` if the store has no such id."""
        found = _first(self.connection,
                       "SELECT record_json, version, source_file FROM registry_records WHERE lower(id) = lower(?)",
                       [record_id.strip()])
        if found is None:
            return None
        return RegistryRecord.from_dict(json.loads(found[0])), str(found[1]), str(found[2])

    def candidates_for_links(self, record: RegistryRecord) -> list[RegistryRecord]:
        """Records that may be the same trial: they name its id, it names theirs, or they share its sponsor."""
        sponsor = " ".join(sorted(normalised_sponsor(record.sponsor)))
        ids = list(record.secondary_ids) or [""]
        found = self.connection.execute(
            f"""SELECT record_json FROM registry_records WHERE id <> ? AND (
                    contains(' ' || secondary_ids || ' ', ' ' || ? || ' ')
                    OR id IN ({', '.join('?' for _ in ids)})
                    OR (? <> '' AND sponsor_key = ?))
                LIMIT 1000""", [record.id, record.id, *ids, sponsor, sponsor]).fetchall()
        return [RegistryRecord.from_dict(json.loads(row[0])) for row in found]

    def _where(self, condition: str | None, intervention: str | None, randomized: bool | None,
               design: str | None) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, text in (("condition_text", condition), ("intervention_text", intervention)):
            if text:
                terms = query_terms(text)
                clauses.append("(" + " OR ".join(f"contains({column}, ?)" for _ in terms) + ")")
                params += terms
        if randomized is not None:
            clauses.append("randomized IS NOT DISTINCT FROM ?")
            params.append(randomized)
        if design is not None:
            if design not in DESIGNS:
                raise UserError(f"--design: {design!r} is not one of {', '.join(DESIGNS)}")
            if design == "single-arm":
                clauses.append("single_arm")
            else:
                clauses.append("design = ?")
                params.append(design)
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", params

    def search(self, *, condition: str | None = None, intervention: str | None = None,
               randomized: bool | None = None, design: str | None = None,
               limit: int | None = None) -> list[RegistryRecord]:
        where, params = self._where(condition, intervention, randomized, design)
        limit_sql = f" LIMIT {int(limit)}" if limit is not None else ""
        found = self.connection.execute(
            f"SELECT record_json FROM registry_records {where} ORDER BY id{limit_sql}", params).fetchall()
        return [RegistryRecord.from_dict(json.loads(row[0])) for row in found]

    def count_matching(self, *, condition: str | None = None, intervention: str | None = None,
                       randomized: bool | None = None, design: str | None = None) -> int:
        where, params = self._where(condition, intervention, randomized, design)
        found = _first(self.connection, f"SELECT count(*) FROM registry_records {where}", params)
        return int(found[0]) if found else 0

    def summary_rows(self, *, condition: str | None = None, intervention: str | None = None,
                     randomized: bool | None = None, design: str | None = None) -> Iterator[TrialFacts]:
        where, params = self._where(condition, intervention, randomized, design)
        cursor = self.connection.cursor().execute(
            f"""SELECT id, registry, status, design_class, randomized, controlled, blinded, single_arm, enrollment,
                       countries FROM registry_records {where} ORDER BY id""", params)
        while chunk := cursor.fetchmany(10_000):
            for row in chunk:
                yield TrialFacts(id=row[0], registry=row[1], status=row[2], design_class=row[3], randomized=row[4],
                                 controlled=row[5], blinded=row[6], single_arm=row[7], enrollment=row[8],
                                 countries=tuple(c for c in (row[9] or "").split("; ") if c))
