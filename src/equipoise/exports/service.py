"""Exports: permission-checked per site, arms masked unless the role is unblinded, audited (EXP-1, EXP-2, AUD-6).

- Formats: ``csv`` (the tables as CSV files), ``parquet`` (the same tables with typed columns), ``dataset-json``
  (the same as CDISC Dataset-JSON 1.1), ``odm`` (CDISC ODM 1.3.2) or ``all`` of them; each table is made once and
  written in every format asked for.

- Who: every role with the export permission; site roles get their own sites only.
- Arms: an open-label trial (or one past its planned unblinding) shows arms to everyone who may export; in a
  blinded trial the export masks them (``masked``; kit codes stay) unless an unblinded role asks for the
  unblinded export (REDCap C.3.30.1500: "blinded models show ... only a concealed code").
- Secrets: the dataset never reads draws, states, parameters or lists (``dataset.collect``).
- Audit: every export is an entry naming the formats, arms shown or masked, sites and each file's SHA-256,
  so an exported file can be matched to the entry that produced it.
- Consistency: everything is read in one transaction (REPEATABLE READ on PostgreSQL), so the files agree.
- The whole audit trail (``audit_log.csv``, ``audit_log.parquet``) goes only into a whole-trial export by a role
  that may read the trail (the monitor, the unblinded statistician), with its secrets masked.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from equipoise import __version__
from equipoise.errors import ForbiddenError, InvalidError, UserError
from equipoise.exports.audit_log import audit_log_table
from equipoise.exports.dataset import Dataset, collect
from equipoise.exports.dataset_json import dataset_json_files
from equipoise.exports.odm import snapshot, transactional
from equipoise.exports.parquet import parquet_files, row_count
from equipoise.exports.table import Table
from equipoise.exports.tables import export_tables
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.services.crf_access import check_site, require_in_trial, visible_sites
from equipoise.services.site_clock import Clock
from equipoise.services.trials import get_trial, in_force, protocol_of, retained_until
from equipoise.store.audit import record_event
from equipoise.store.db import Database
from equipoise.store.models import AuditEntry, AuditHead
from equipoise.store.types import iso, utcnow

Format = Literal["csv", "parquet", "dataset-json", "odm", "all"]
FORMATS: tuple[str, ...] = get_args(Format)
TABULAR = ("csv", "parquet", "dataset-json", "all")  # the formats that write the tables


@dataclass(frozen=True)
class ExportBundle:
    trial_id: str
    manifest: dict[str, Any]
    files: dict[str, bytes]

    def zip_bytes(self) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, content in self.files.items():
                archive.writestr(name, content)
        return out.getvalue()

    def write(self, directory: Path) -> list[Path]:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            paths = []
            for name, content in self.files.items():
                path = directory / name
                path.write_bytes(content)
                paths.append(path)
        except OSError as exc:
            raise UserError(f"{directory}: cannot write the export: {exc.strerror or exc}") from None
        return paths

    def to_dict(self) -> dict[str, Any]:
        return self.manifest

    def __str__(self) -> str:
        m = self.manifest
        lines = [f"export of trial {m['trial_id']} (protocol version {m['protocol_version']}) at {m['exported_at']}: "
                 f"{m['patients']} patients, {m['randomized']} randomized; arms {m['arms']}; sites "
                 f"{', '.join(m['sites']) if isinstance(m['sites'], list) else m['sites']}"]
        lines += [f"  {f['name']:<28} {f['rows'] if f['rows'] is not None else '':>6}  sha256 {f['sha256'][:16]}…"
                  for f in m["files"]]
        return "\n".join(lines)


class ExportService:
    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self.db = db
        self.clock = clock

    def export(self, principal: Principal, trial_id: str, *, fmt: str = "all", unblinded: bool = False,
               site_id: str | None = None, purpose: str | None = None, raw_csv: bool = False,
               tables: Collection[str] | None = None) -> ExportBundle:
        """The export's files; ``purpose`` (e.g. a committee's closed report) goes into its audit entry.

        The CSV files neutralise text cells a spreadsheet would run as formulas (``table.neutralised``) unless
        ``raw_csv`` (for analysis code); the manifest's ``csv_cells`` says which. ``tables`` (names without
        extension, CSV only): just those tables, for a reader that needs a few (the analyses and reports): neither
        the audit trail nor any other table is read or made."""
        if fmt not in FORMATS:
            raise InvalidError(f"format must be one of: {', '.join(FORMATS)}")
        if tables is not None and fmt != "csv":
            raise InvalidError("a selection of tables is exported as CSV only")
        require_in_trial(principal, Action.EXPORT, trial_id)
        sites = visible_sites(principal, Action.EXPORT, trial_id, site_id)
        now = self.clock()
        with self._snapshot() as s:
            trial = get_trial(s, trial_id)
            check_site(protocol_of(trial), site_id)
            open_arms = not trial.blinded or trial.unblinded_at is not None
            if unblinded and not open_arms and not (principal.system or principal.sees_arms(
                    trial.id, trial.blinded, trial.unblinded_at)):
                raise ForbiddenError("the unblinded export is only for the unblinded statistician and the data "
                                     "monitoring committee")
            arms_shown = open_arms or unblinded
            current = in_force(trial, now.date()).trial.version
            data = collect(s, trial, current_version=current, arms_shown=arms_shown, sites=sites, exported_at=now,
                           exported_by=principal.username, trail=tables is None or "audit_trail" in tables)
            extra: dict[str, Table] = {}
            if fmt in TABULAR and sites is None and (tables is None or "audit_log" in tables) and (
                    principal.system or principal.can(Action.VIEW_AUDIT, trial_id)):
                entries = s.scalars(select(AuditEntry).where(AuditEntry.trial_id == trial_id)
                                    .order_by(AuditEntry.id).execution_options(yield_per=1000))
                extra["audit_log"] = audit_log_table(entries, arms_shown)
            made = export_tables(data, tables, extra) if fmt in TABULAR else {}
            files = self._files(data, made, fmt, raw_csv)
            head = s.execute(select(AuditHead.last_id, AuditHead.last_hash)).first()
        manifest = self._manifest(data, files, made, fmt)
        if fmt in ("csv", "all"):
            manifest["csv_cells"] = "raw" if raw_csv else "formulas-neutralised"
        # AUD-3: the trail's head as the export saw it, a witness kept outside the database: `equipoise audit
        # verify --expect-head` finds a chain rewritten since, even by someone able to recompute every hash
        manifest["audit_head"] = {"entry_id": head.last_id, "hash": head.last_hash} if head else None
        files["manifest.json"] = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
        reason = f"{fmt} export" + (f" for {purpose}" if purpose else "")
        with self.db.write(principal.audit_context(reason=reason)) as s:
            # one site's export is an entry of that site (its site-scoped monitor sees it)
            one_site = next(iter(sites)) if sites is not None and len(sites) == 1 else None
            record_event(s, "export", trial_id=trial_id, site_id=one_site, details={
                "format": fmt, "arms": manifest["arms"], "sites": manifest["sites"], "patients": manifest["patients"],
                "files": {f["name"]: f["sha256"] for f in manifest["files"]},
                **({"purpose": purpose} if purpose else {})})
        return ExportBundle(trial_id, manifest, files)

    def _snapshot(self) -> Any:
        from contextlib import contextmanager

        @contextmanager
        def session() -> Any:
            with self.db.read_engine.connect() as conn:
                if self.db.dialect == "postgresql":
                    conn.execution_options(isolation_level="REPEATABLE READ")
                with Session(bind=conn, expire_on_commit=False) as s, s.begin():
                    yield s

        return session()

    @staticmethod
    def _files(data: Dataset, tables: dict[str, Table], fmt: str, raw_csv: bool) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        if fmt in ("csv", "all"):
            files.update({f"{name}.csv": table.csv(raw=raw_csv).encode() for name, table in tables.items()})
        if fmt in ("odm", "all"):
            files["odm.xml"] = snapshot(data)
            files["odm_audit.xml"] = transactional(data)
        if fmt in ("parquet", "all"):
            files.update(parquet_files(tables, trial_id=data.trial.id, protocol_version=data.current_version,
                                       arms_shown=data.arms_shown))
        if fmt in ("dataset-json", "all"):
            files.update(dataset_json_files(tables, data))
        return files

    @staticmethod
    def _manifest(data: Dataset, files: dict[str, bytes], tables: dict[str, Table], fmt: str) -> dict[str, Any]:
        def rows(name: str, content: bytes) -> int | None:
            if name.endswith(".parquet"):
                return row_count(content)
            if name.endswith(".json"):  # Dataset-JSON (the manifest is written after this)
                return int(json.loads(content)["records"])
            if not name.endswith(".csv"):
                return None
            # counted from the table, not by reading the CSV back: a 1 MB cell exceeded the csv module's
            # field limit (131,072) and failed every export of the trial
            return len(tables[name.removesuffix(".csv")].rows)

        return {
            "trial_id": data.trial.id, "title": data.trial.title, "protocol_version": data.current_version,
            "protocol_sha256": data.trial.protocol_sha256, "exported_at": iso(data.exported_at),
            "exported_by": data.exported_by, "format": fmt, "arms": "shown" if data.arms_shown else "masked",
            "sites": data.sites if data.sites is not None else "all", "patients": len(data.patients),
            "randomized": len(data.allocations), "equipoise_version": __version__,
            "trial_purpose": data.trial.purpose or "production",  # "test": a test trial's data (RND-8)
            "retention": {"years": data.protocol.trial.retention_years, "from": "database lock",
                          "retain_until": retained_until(data.protocol, data.trial.locked_at)},
            "files": [{"name": name, "rows": rows(name, content), "sha256": hashlib.sha256(content).hexdigest()}
                      for name, content in files.items()],
        }
