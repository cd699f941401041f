"""The trial server's export (``equipoise export`` or ``GET /api/trials/{id}/export``) as analysis inputs.

The export's ``analysis.csv`` is already the wide layout the estimators read (one row per randomized patient;
see ``equipoise.exports.analysis``); this module adds what the reports need from the other files:

- the screening log, from ``screening_log.csv`` (``screening_id, site, screened_on, reason``: enrolments the
  server refused on eligibility);
- serious adverse events, from the form of the protocol whose id or name mentions adverse events
  (``form_adverse_event.csv``), saved forms only (a form marked not done means no event), mapped to
  ``patient_id, term, onset_date, grade, related`` (``term`` from a ``term`` or ``description`` field,
  ``grade`` from a ``grade`` or ``severity_grade`` field);
- the CONSORT follow-up columns ``lost_to_follow_up`` and ``withdrew`` (0/1), from ``off_study.csv`` (the
  patients a site took off study, by kind) or, for exports without it, from the primary outcome's source form
  at the outcome's visit when the site marked it not done with a reason that says so ("lost to follow-up",
  "withdrew" / "withdrawal");
- the interim look of each patient, from data cut-off dates (the server does not know when the committee met):
  a patient belongs to the first look whose cut-off is on or after the day their primary outcome was due
  (``randomised_on`` + the outcome's day), else to the current look, after the last cut-off.

In a blinded export every arm reads ``masked``: the open report accepts that, the comparisons by arm do not.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from equipoise.errors import UserError
from equipoise.protocol import Protocol

MASKED = "masked"


@dataclass(frozen=True)
class ExportData:
    """An export read for analysis: patients (analysis.csv), screening log, serious adverse events, manifest."""

    patients: pd.DataFrame
    screening: pd.DataFrame | None
    adverse_events: pd.DataFrame | None
    manifest: dict[str, Any]

    @property
    def arms_masked(self) -> bool:
        return self.manifest.get("arms") == MASKED

    def require_arms(self, what: str) -> None:
        """Refuse a blinded export where the analysis compares arms."""
        if self.arms_masked:
            raise UserError(f"{what} compares arms, but this export masks them (a blinded export): use the "
                            "unblinded export (unblinded statistician or data monitoring committee)")


def _csv(files: Mapping[str, bytes], name: str, source: str) -> pd.DataFrame | None:
    content = files.get(name)
    if content is None:
        return None
    try:
        return pd.read_csv(io.BytesIO(content), dtype={"patient_id": str}, keep_default_na=True)
    except pd.errors.EmptyDataError:
        return None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UserError(f"{source}: {name} is not a readable CSV file ({str(exc).splitlines()[0]})") from None


def adverse_event_forms(protocol: Protocol) -> list[str]:
    """Ids of the forms whose id or name mentions adverse events."""
    return [f.id for f in protocol.forms if "adverse" in f.id.lower() or "adverse" in f.name.lower()]


def outcome_form(protocol: Protocol) -> str | None:
    """Id of the form the primary outcome is read from (its not-done reasons tell the CONSORT follow-up)."""
    plan = protocol.analysis
    outcome = protocol.outcome(plan.primary.outcome) if plan is not None else None
    if outcome is None or outcome.source is None:
        return None
    form = protocol.form(outcome.source.split(".", 1)[0])
    return form.id if form is not None else None


def input_tables(protocol: Protocol) -> list[str]:
    """The export tables (file names without ``.csv``) that ``read_export`` reads: an analysis or report asks the
    server for these only, never for the audit trail."""
    forms = [f for f in [outcome_form(protocol), *adverse_event_forms(protocol)] if f is not None]
    return ["analysis", "screening_log", "off_study", *dict.fromkeys(f"form_{f}" for f in forms)]


def read_export(files: Mapping[str, bytes], protocol: Protocol, source: str = "export") -> ExportData:
    """The analysis inputs from an export's files (by name: ``analysis.csv``, ``manifest.json``, ...)."""
    if "analysis.csv" not in files:
        raise UserError(f"{source}: no analysis.csv (is this an Equipoise CSV export? 'equipoise export csv' "
                        "writes one)")
    try:
        manifest = json.loads(files["manifest.json"]) if "manifest.json" in files else {}
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise UserError(f"{source}: manifest.json is not JSON") from None
    if not isinstance(manifest, dict):
        raise UserError(f"{source}: manifest.json must hold a JSON object")
    if manifest.get("trial_id") not in (None, protocol.trial.id):
        raise UserError(f"{source}: the export is of trial {manifest['trial_id']}, the protocol of trial "
                        f"{protocol.trial.id}")
    patients = _csv(files, "analysis.csv", source)
    if patients is None or patients.empty:
        raise UserError(f"{source}: analysis.csv has no randomized patient")
    screening = _csv(files, "screening_log.csv", source)
    patients = _follow_up(patients, files, protocol, source)
    return ExportData(patients, screening, serious_adverse_events(files, protocol, source), manifest)


def _follow_up(patients: pd.DataFrame, files: Mapping[str, bytes], protocol: Protocol, source: str) -> pd.DataFrame:
    if "lost_to_follow_up" in patients.columns:
        return patients
    kinds: dict[str, str] = {}
    off = _csv(files, "off_study.csv", source)
    if off is not None and {"patient_id", "kind"} <= set(off.columns):
        kinds = dict(zip(off["patient_id"].astype(str), off["kind"].astype(str), strict=True))
    reasons = _not_done_reasons(files, protocol, source)
    if not kinds and reasons is None:
        return patients
    reasons = reasons or {}
    out = patients.copy()
    ids = out["patient_id"].astype(str)
    out["lost_to_follow_up"] = [int(kinds.get(i) == "lost-to-follow-up" or "lost to follow" in reasons.get(i, ""))
                                for i in ids]
    out["withdrew"] = [int(kinds.get(i) == "withdrew-consent" or "withdr" in reasons.get(i, "")) for i in ids]
    return out


def _not_done_reasons(files: Mapping[str, bytes], protocol: Protocol, source: str) -> dict[str, str] | None:
    """Patient -> the not-done reason of the primary outcome's form at the outcome's visit (lower case)."""
    plan = protocol.analysis
    outcome = protocol.outcome(plan.primary.outcome) if plan is not None else None
    form_id = outcome_form(protocol)
    form = protocol.form(form_id) if form_id is not None else None
    if outcome is None or form is None:
        return None
    df = _csv(files, f"form_{form.id}.csv", source)
    if df is None or not {"visit", "status", "not_done_reason"} <= set(df.columns):
        return None
    days = {v.id: v.day for v in protocol.visits}
    candidates = [v for v in form.visits if days.get(v, 0) <= outcome.day] or list(form.visits)
    visit = max(candidates, key=lambda v: days.get(v, 0))
    not_done = df[(df["visit"].astype(str) == visit) & (df["status"].astype(str) == "not-done")]
    return dict(zip(not_done["patient_id"].astype(str), not_done["not_done_reason"].astype(str).str.lower(),
                    strict=True))


def serious_adverse_events(files: Mapping[str, bytes], protocol: Protocol, source: str = "export"
                           ) -> pd.DataFrame | None:
    """Saved adverse-event forms in the reports' layout (None when the protocol has no adverse-event form)."""
    forms = adverse_event_forms(protocol)
    frames = []
    for form_id in forms:
        df = _csv(files, f"form_{form_id}.csv", source)
        if df is None or df.empty:
            continue
        df = df[df["status"].astype(str) != "not-done"] if "status" in df.columns else df

        def first(names: Sequence[str], frame: pd.DataFrame = df) -> pd.Series:
            name = next((n for n in names if n in frame.columns), None)
            return frame[name] if name else pd.Series([None] * len(frame), index=frame.index, dtype=object)

        frames.append(pd.DataFrame({"patient_id": df["patient_id"].astype(str),
                                    "term": first(["term", "description"]), "onset_date": first(["onset_date"]),
                                    "grade": first(["grade", "severity_grade"]), "related": first(["related"])}))
    if not forms:
        return None
    if not frames:
        return pd.DataFrame(columns=["patient_id", "term", "onset_date", "grade", "related"])
    return pd.concat(frames, ignore_index=True)


def assign_looks(patients: pd.DataFrame, protocol: Protocol, cutoffs: Sequence[dt.date]) -> pd.DataFrame:
    """A copy with a ``look`` column (see the module docstring); without cut-offs every patient is in look 1."""
    plan = protocol.analysis
    outcome = protocol.outcome(plan.primary.outcome) if plan is not None else None
    if outcome is None:
        raise UserError("protocol: no primary outcome, so no interim looks")
    ordered = sorted(cutoffs)
    out = patients.copy()
    looks = []
    for value in out["randomised_on"].tolist():
        try:
            due = dt.date.fromisoformat(str(value)[:10]) + dt.timedelta(days=outcome.day)
        except ValueError:
            raise UserError(f"data: randomised_on {value!r} is not a date") from None
        looks.append(next((k for k, cut in enumerate(ordered, start=1) if due <= cut), len(ordered) + 1))
    out["look"] = looks
    return out
