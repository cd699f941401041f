"""``equipoise evidence add-trial``: a trial run on this Equipoise server feeds the evidence. Its primary outcome
(or another binary outcome of its protocol) becomes one row of a trial-level evidence CSV: the 2x2 table for a
binary outcome, else the estimate and standard error on the analysis scale (log for ratios).

Reading the trial's data is an export: it goes through the export service of ``cli/server_data.py`` (the same
path as ``analyze protocol --trial``), so it is permission-checked, audited with the SHA-256 of every file and the
purpose, and free of allocation secrets. The row names that export in its ``citation`` and ``how_checked``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import typer

from equipoise.analyze.protocol_analysis import concurrent_patients, outcome_column, run_protocol
from equipoise.cli.database_option import DbOption
from equipoise.cli.output import JsonOption, print_json, print_plain
from equipoise.cli.server_data import ServerOpt, export_provenance, from_server
from equipoise.errors import UserError
from equipoise.protocol import OutcomeType, Protocol

add_trial_commands = typer.Typer()

BINARY_HEADER = ["study", "year", "events_treatment", "n_treatment", "events_control", "n_control", "outcome",
                 "citation", "how_checked"]
GENERIC_HEADER = ["study", "year", "estimate", "se", "outcome", "citation", "how_checked"]
MISSING = {"", "nan", "none", "na"}


def _binary_counts(df: pd.DataFrame, column: str, arm: str) -> tuple[int, int]:
    """Events (value 1) and patients with the outcome recorded, in ``arm``."""
    values = df.loc[df["arm"].astype(str) == arm, column]
    recorded = values[~values.astype(str).str.strip().str.lower().isin(MISSING) & values.notna()]
    try:
        numbers = recorded.astype(float)
    except ValueError:
        raise UserError(f"data: outcome column {column!r} is not 0/1") from None
    if not numbers.isin([0.0, 1.0]).all():
        raise UserError(f"data: outcome column {column!r} is not 0/1")
    return int(numbers.sum()), len(numbers)


def trial_rows(protocol: Protocol, patients: pd.DataFrame, outcome_id: str | None, source: str,
               exported_on: dt.date | None) -> list[dict[str, Any]]:
    """One row per experimental arm against its concurrent controls."""
    plan = protocol.analysis
    control = protocol.control_arm
    if plan is None or control is None:
        raise UserError("protocol: it has no analysis section with a control arm")
    chosen = protocol.outcome(outcome_id or plan.primary.outcome)
    if chosen is None:
        raise UserError(f"--outcome: the protocol has no outcome {outcome_id!r} (outcomes: "
                        f"{', '.join(o.id for o in protocol.outcomes)})")
    present = set(patients["arm"].astype(str)) if "arm" in patients.columns else set()
    experimental = [a.id for a in protocol.arms if a.id != control.id and a.id in present]
    if control.id not in present or not experimental:
        raise UserError(f"trial {protocol.trial.id}: no patients in the control arm {control.id!r} and another arm yet")
    year = (exported_on or dt.date.today()).year
    # the design flags of the certainty summary: the server randomizes centrally and reveals an allocation only
    # once the patient is randomized (concealment); blinding is the protocol's
    flags = {"randomized": "yes", "concealed": "yes", "blinded": "yes" if protocol.trial.blinding.is_blinded else "no"}
    base = {"year": year, **flags, "citation": source,
            "how_checked": "computed by 'equipoise evidence add-trial' from this audited export"}
    rows = []
    primary = chosen.id == plan.primary.outcome
    if chosen.type is OutcomeType.BINARY:
        column = outcome_column(patients, chosen)
        for arm in experimental:
            sub = patients.loc[concurrent_patients(protocol, patients, arm)]
            e_t, n_t = _binary_counts(sub, column, arm)
            e_c, n_c = _binary_counts(sub, column, control.id)
            if n_t == 0 or n_c == 0:
                raise UserError(f"trial {protocol.trial.id}: no patient has {chosen.id!r} recorded in "
                                f"{arm if n_t == 0 else control.id} yet")
            rows.append({"study": _name(protocol, arm, control.id, len(experimental)), **base,
                         "events_treatment": e_t, "n_treatment": n_t, "events_control": e_c, "n_control": n_c,
                         "outcome": f"{chosen.name} ({chosen.id}), {arm} vs {control.id}"})
        return rows
    if not primary:
        raise UserError(f"--outcome {chosen.id}: only the primary outcome or a binary outcome can be added "
                        f"({chosen.id} is {chosen.type.value})")
    analysis = run_protocol(protocol, patients, which="primary")
    for comparison in analysis.comparisons:
        result = comparison.result
        estimate, se, scale = _estimate_and_se(result)
        experimental_arm = str(getattr(result, "experimental", ""))
        rows.append({"study": _name(protocol, experimental_arm, control.id, len(experimental)), **base,
                     "estimate": estimate, "se": se,
                     "outcome": f"{chosen.name} ({chosen.id}), {experimental_arm} vs {control.id}: {scale}; "
                                f"{getattr(result, 'direction', '')}".rstrip("; ")})
    return rows


def _estimate_and_se(result: object) -> tuple[float, float, str]:
    """The primary comparison on its analysis scale."""
    if hasattr(result, "log_odds_ratio"):
        return float(result.log_odds_ratio), float(result.se), "log common odds ratio"  # type: ignore[attr-defined]
    if hasattr(result, "log_hazard_ratio"):
        return float(result.log_hazard_ratio), float(result.se), "log hazard ratio"  # type: ignore[attr-defined]
    md = getattr(result, "mean_difference", None)
    if md is not None and md.se is not None:
        return float(md.estimate), float(md.se), "mean difference"
    raise UserError("the primary comparison has no estimate with a standard error to add")


def _name(protocol: Protocol, arm: str, control: str, arms: int) -> str:
    return protocol.trial.id if arms == 1 else f"{protocol.trial.id} ({arm} vs {control})"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UserError("the trial's estimate is not finite yet (too few patients or events)")
        return repr(value)
    return str(value)


def append_rows(path: Path, rows: list[dict[str, Any]]) -> str:
    """Add ``rows`` to the evidence CSV at ``path`` (created if absent); a row of the same study is replaced (the
    trial's data moved on). Written to a temporary file and renamed, so the CSV is never half-written."""
    optional = ("outcome", "citation", "how_checked", "randomized", "concealed", "blinded")
    needed = [k for k in rows[0] if k not in optional]
    if path.exists() and path.stat().st_size > 0:
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.DictReader(handle)
                header = list(reader.fieldnames or [])
                existing = list(reader)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise UserError(f"{path}: not a readable CSV file ({exc})") from None
        missing = [c for c in needed if c not in header]
        if missing:
            raise UserError(f"{path}: no column {', '.join(missing)} for this trial's row "
                            f"(columns: {', '.join(header)})")
    else:
        header = list(rows[0])
        existing = []
    names = {str(r["study"]) for r in rows}
    kept = [r for r in existing if (r.get("study") or "").strip() not in names]
    replaced = len(existing) - len(kept)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(kept)
    writer.writerows({k: _cell(v) for k, v in r.items()} for r in rows)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(out.getvalue())
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    return "replaced" if replaced else "added"


@add_trial_commands.command("add-trial")
def add_trial(
    trial: str = typer.Option(..., "--trial", help="Trial id on this Equipoise server."),
    db: str | None = DbOption,
    server: str | None = ServerOpt,
    protocol_file: Path | None = typer.Option(None, "--protocol", help="With --server: the protocol file the server "
                                                                        "runs (checked against the export's SHA-256)."),
    csv_file: Path | None = typer.Option(None, "--csv", help="Evidence CSV to add the row to (created if absent; "
                                                             "a row of the same trial is replaced)."),
    outcome: str | None = typer.Option(None, "--outcome", help="A binary outcome of the protocol to add instead of "
                                                               "the primary (e.g. death_day28)."),
    as_json: bool = JsonOption,
) -> None:
    """Add a trial run on this server to the evidence: its primary outcome's 2x2 table (binary) or estimate and
    SE, read through an audited, permission-checked export (from --db as this installation's operator; through
    --server as the user of the token, so only the unblinded statistician and the committee may)."""
    protocol, export = from_server(trial, db=db, server=server, unblinded=True,
                                   purpose=f"evidence synthesis: add-trial{f' to {csv_file}' if csv_file else ''}",
                                   protocol_file=protocol_file)
    export.require_arms("evidence add-trial")
    exported_on, source = export_provenance(export.manifest)
    rows = trial_rows(protocol, export.patients, outcome, source, exported_on)
    action = append_rows(csv_file, rows) if csv_file is not None else None
    if as_json:
        print_json({"rows": rows, "csv": str(csv_file) if csv_file else None, "action": action})
        return
    if csv_file is not None:
        print_plain(f"{action} {len(rows)} row{'s' if len(rows) != 1 else ''} for trial {trial} in {csv_file}")
        return
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in r.items()} for r in rows)
    print_plain(out.getvalue().rstrip("\n"))
