"""Analysis and report inputs straight from the trial server: its database (``--trial ID [--db URL]``), a running
server's API (``--trial ID --server URL`` with a token), or an export already written (``--data DIR|ZIP``).

Reading a trial's data is an export, so it goes through the export service: permission-checked (through the
API, by the token's role: only the unblinded statistician and the committee get arms in a blinded trial; from
the database, as the operator of this installation), audited with the SHA-256 of every file and the purpose
(e.g. "closed report for the data monitoring committee"), and free of allocation secrets. The comparisons
by arm ask for the unblinded export; the open report asks for the blinded one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from equipoise.analyze.server_export import ExportData, assign_looks, input_tables, read_export
from equipoise.cli.data_input import split_list
from equipoise.cli.output import parse_date
from equipoise.errors import UserError
from equipoise.protocol import Protocol
from equipoise.user_files import MAX_DATA_BYTES, read_user_bytes

if TYPE_CHECKING:
    from equipoise.store.db import Database

TOKEN_ENV = "EQUIPOISE_TOKEN"

TrialOpt = typer.Option(None, "--trial", help="Trial id on the trial server: its data are read as an audited export "
                                              "(from --db, or from --server).")
ServerOpt = typer.Option(None, "--server", help="URL of a running trial server (with --trial): read the export "
                                                f"through its API as the user of the token in ${TOKEN_ENV}.")
LookDatesOpt = typer.Option(None, "--look-dates", help="With server data: the data cut-off dates of the earlier "
                                                       "looks (YYYY-MM-DD,...); the current data form the next look.")


def is_export(path: Path) -> bool:
    """A directory or zip written by ``equipoise export`` (it holds analysis.csv)."""
    return (path.is_dir() and (path / "analysis.csv").exists()) or (path.is_file() and zipfile.is_zipfile(path))


def export_files(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        return {p.name: read_user_bytes(p, max_bytes=MAX_DATA_BYTES, option="--data") for p in path.iterdir()
                if p.is_file()}
    try:
        with zipfile.ZipFile(path) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            if sum(info.file_size for info in members) > MAX_DATA_BYTES:  # a zip bomb is refused before unpacking
                raise UserError(f"--data: {path} unpacks to more than {MAX_DATA_BYTES // (1024 * 1024)} MB")
            return {Path(info.filename).name: archive.read(info) for info in members}
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise UserError(f"--data: {path} is not a readable export ({exc})") from None


def look_dates(text: str | None) -> list[dt.date]:
    return [parse_date(t, "--look-dates") for t in split_list(text)]


def _protocol_from_database(db: str | None, trial_id: str) -> tuple[Protocol, Database]:
    from equipoise.cli.database_option import open_database
    from equipoise.services.trials import get_trial, protocol_of

    database = open_database(db)
    with database.read() as s:
        protocol = protocol_of(get_trial(s, trial_id))
    return protocol, database


def _from_api(server: str, trial_id: str, unblinded: bool) -> dict[str, bytes]:
    token = os.environ.get(TOKEN_ENV)
    if not token:
        raise UserError(f"--server: set ${TOKEN_ENV} to a token of the trial server (POST /api/auth/login, or an API "
                        "token from POST /api/auth/tokens)")
    base = server.rstrip("/")
    # raw CSV: the analysis reads the values as stored, not as neutralised for spreadsheets
    query = urllib.parse.urlencode({"format": "csv", "unblinded": str(unblinded).lower(), "raw_csv": "true"})
    url = f"{base}/api/trials/{urllib.parse.quote(trial_id, safe='')}/export?{query}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            archive = bytes(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        raise UserError(f"--server: the export of trial {trial_id} was refused ({exc.code}): {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise UserError(f"--server: cannot reach {base} ({getattr(exc, 'reason', exc)})") from None
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as z:
            return {name: z.read(name) for name in z.namelist()}
    except zipfile.BadZipFile:
        raise UserError(f"--server: {base} did not answer with an export (zip)") from None


def from_server(trial_id: str, *, db: str | None, server: str | None, unblinded: bool, purpose: str,
                protocol_file: Path | None = None) -> tuple[Protocol, ExportData]:
    """The trial's protocol (as the server runs it) and an export of its data, made for ``purpose``.

    From the database the protocol is the one stored with the trial; through the API it is ``protocol_file``,
    which must be the very file the server runs (same SHA-256 as the export's manifest)."""
    from equipoise.protocol import load_protocol

    if server is not None:
        if protocol_file is None:
            raise UserError("--server: give the protocol file too (the API does not hand out the file itself)")
        files = _from_api(server, trial_id, unblinded)
        manifest = json.loads(files.get("manifest.json", b"{}"))
        digest = hashlib.sha256(read_user_bytes(protocol_file)).hexdigest() if protocol_file.exists() else None
        if digest is not None and manifest.get("protocol_sha256") not in (None, digest):
            raise UserError(f"{protocol_file} is not the protocol file trial {trial_id} runs on the server (SHA-256 "
                            f"{manifest['protocol_sha256'][:16]}…): analyse with the file the server runs")
        protocol = load_protocol(protocol_file)
        return protocol, read_export(files, protocol, f"trial {trial_id} at {server}")
    from equipoise.exports import ExportService
    from equipoise.identity.principal import system_principal

    protocol, database = _protocol_from_database(db, trial_id)
    try:
        # only the tables the analysis reads: no audit trail, no other form (issue 18)
        bundle = ExportService(database).export(system_principal("cli"), trial_id, fmt="csv", unblinded=unblinded,
                                                purpose=purpose, raw_csv=True, tables=input_tables(protocol))
    finally:
        database.dispose()
    return protocol, read_export(bundle.files, protocol, f"trial {trial_id}")


def resolve(*, protocol_file: Path | None, data: Path | None, trial: str | None, db: str | None, server: str | None,
            unblinded: bool, purpose: str, what: str) -> tuple[Protocol, ExportData | None, Path | None]:
    """The protocol and, for server data (``--trial``) or an export (``--data DIR|ZIP``), the export read;
    for a plain CSV, the path (read by the caller)."""
    from equipoise.protocol import load_protocol

    if trial is not None:
        if data is not None:
            raise UserError(f"{what}: give --data or --trial, not both")
        if protocol_file is not None and (named := load_protocol(protocol_file)).trial.id != trial:
            raise UserError(f"{protocol_file} describes trial {named.trial.id}, not {trial}")
        protocol, export = from_server(trial, db=db, server=server, unblinded=unblinded, purpose=purpose,
                                       protocol_file=protocol_file)
        return protocol, export, None
    if server is not None:
        raise UserError("--server: name the trial with --trial")
    if protocol_file is None:
        raise UserError(f"{what}: give the protocol file (or --trial to read it from the trial server)")
    protocol = load_protocol(protocol_file)
    if data is None:
        raise UserError(f"{what}: give --data (a CSV file or an export) or --trial")
    if not data.exists():
        raise UserError(f"--data: file not found: {data}")
    if is_export(data):
        return protocol, read_export(export_files(data), protocol, str(data)), None
    return protocol, None, data


def with_looks(export: ExportData, protocol: Protocol, dates: list[dt.date]) -> ExportData:
    return ExportData(assign_looks(export.patients, protocol, dates), export.screening, export.adverse_events,
                      export.manifest)



def export_provenance(manifest: dict[str, object]) -> tuple[dt.date | None, str]:
    """Report options naming the export the data come from (and its data cut-off: the moment of export)."""
    files = manifest.get("files")
    digest = next((f.get("sha256") for f in files if isinstance(f, dict) and f.get("name") == "analysis.csv"), None) \
        if isinstance(files, list) else None
    when = str(manifest.get("exported_at") or "")
    try:
        cutoff: dt.date | None = dt.date.fromisoformat(when[:10])
    except ValueError:
        cutoff = None
    source = (f"trial server export of trial {manifest.get('trial_id')} at {when or 'an unknown time'} by "
              f"{manifest.get('exported_by', '?')} (arms {manifest.get('arms', '?')}"
              + (f"; analysis.csv SHA-256 {str(digest)[:16]}…" if digest else "") + ")")
    return cutoff, source
