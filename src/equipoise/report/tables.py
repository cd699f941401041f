"""Tables for the reports, computed from patient-level DataFrames: CONSORT counts, baseline characteristics,
enrolment by site, safety. Each function takes an ``arms`` list; the open report passes one pooled group."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from equipoise.analyze.data import binary_column
from equipoise.analyze.report_inputs import POOLED, groups


@dataclass(frozen=True)
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""


def plural(count: int, noun: str) -> str:
    """``1 patient``, ``2 patients``."""
    return f"{count} {noun if count == 1 else noun + 's'}"


def _flag(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series(np.zeros(len(df), bool), index=df.index)
    values = binary_column(df.reset_index(drop=True), column)
    return pd.Series(np.nan_to_num(values, nan=0.0) == 1, index=df.index)


def consort_counts(patients: pd.DataFrame, screening: pd.DataFrame | None, *, arm: str, arms: Sequence[str],
                   primary_column: str | None, pooled_follow_up: bool, due: pd.Series | None = None
                   ) -> dict[str, str]:
    """Box texts of the CONSORT 2010 flow diagram. ``due`` (per patient: was the primary outcome due by the data
    cut-off?) separates, at an interim look, patients not followed long enough from those whose outcome is
    missing."""
    n_rand = len(patients)
    excluded = 0 if screening is None else len(screening)
    lines = [f"Excluded (n = {excluded})"]
    if screening is not None and "reason" in screening.columns:
        for reason, count in screening["reason"].astype(str).value_counts().items():
            lines.append(f"• {reason} (n = {count})")
    boxes = {"assessed": f"Assessed for eligibility (n = {n_rand + excluded})", "excluded": "\n".join(lines),
             "randomised": f"Randomised (n = {n_rand})"}
    by_arm = groups(patients, arm, arms)
    follow_groups = {POOLED: patients} if pooled_follow_up else by_arm
    for name, g in by_arm.items():
        received = int(_flag(g, "infusion_completed").sum()) if "infusion_completed" in g.columns else len(g)
        boxes[f"allocated:{name}"] = (f"Allocated to {name} (n = {len(g)})\n• received allocated intervention "
                                      f"(n = {received})\n• did not (n = {len(g) - received})")
    for name, g in follow_groups.items():
        lost, withdrew = int(_flag(g, "lost_to_follow_up").sum()), int(_flag(g, "withdrew").sum())
        has = g[primary_column].notna() if primary_column and primary_column in g.columns else \
            pd.Series(True, index=g.index)
        analysed = int(has.sum())
        pending = int((~has & ~due.loc[g.index]).sum()) if due is not None else 0
        boxes[f"followup:{name}"] = f"Lost to follow-up (n = {lost})\nWithdrew consent (n = {withdrew})"
        boxes[f"analysed:{name}"] = (f"Analysed for the primary outcome (n = {analysed})\n"
                                     f"• excluded: outcome missing (n = {len(g) - analysed - pending})"
                                     + (f"\n• not yet due at the data cut-off (n = {pending})" if pending else ""))
    return boxes


def _mean_sd(x: pd.Series) -> str:
    v = pd.to_numeric(x, errors="coerce").dropna()
    return f"{v.mean():.1f} ({v.std(ddof=1):.1f})" if len(v) > 1 else "—"


def _median_iqr(x: pd.Series) -> str:
    v = pd.to_numeric(x, errors="coerce").dropna()
    if len(v) == 0:
        return "—"
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return f"{med:g} ({q1:g}–{q3:g})"


def baseline_table(patients: pd.DataFrame, *, arm: str, arms: Sequence[str], numeric: Sequence[str],
                   categorical: Sequence[str], labels: dict[str, str] | None = None) -> Table:
    """Baseline characteristics by arm (no p-values: baseline differences in a randomised trial are chance, as
    CONSORT 2010 item 15 advises)."""
    labels = labels or {}
    g = groups(patients, arm, arms)
    header = ["Characteristic", *[f"{a} (n = {len(d)})" for a, d in g.items()]]
    rows: list[list[str]] = []
    for col in numeric:
        if col not in patients.columns:
            continue
        rows.append([f"{labels.get(col, col)}, mean (SD)", *[_mean_sd(d[col]) for d in g.values()]])
        rows.append([f"{labels.get(col, col)}, median (IQR)", *[_median_iqr(d[col]) for d in g.values()]])
    for col in categorical:
        if col not in patients.columns:
            continue
        rows.append([f"{labels.get(col, col)}, n (%)", *["" for _ in g]])
        levels = sorted(patients[col].dropna().astype(str).unique(), key=_natural)
        for level in levels:
            cells = []
            for d in g.values():
                n = int((d[col].astype(str) == level).sum())
                cells.append(f"{n} ({100 * n / len(d):.0f}%)" if len(d) else "0")
            rows.append([f"    {level}", *cells])
        missing = [int(d[col].isna().sum()) for d in g.values()]
        if any(missing):
            rows.append(["    missing", *[str(m) for m in missing]])
    return Table("Baseline characteristics", header, rows)


def _natural(text: str) -> tuple[int, float | str]:
    try:
        return (0, float(text))
    except ValueError:
        return (1, text)


def enrolment_table(patients: pd.DataFrame, *, arm: str, arms: Sequence[str], site: str = "site",
                    date: str = "randomised_on") -> Table:
    g = groups(patients, arm, arms)
    header = ["Site", "First patient", "Last patient", *[str(a) for a in g], "Total"]
    rows = []
    for s, d in sorted(patients.groupby(site), key=lambda kv: str(kv[1][date].min())):
        per = [str(int((gd[site] == s).sum())) for gd in g.values()]
        rows.append([str(s), str(d[date].min()), str(d[date].max()), *per, str(len(d))])
    rows.append(["All sites", str(patients[date].min()), str(patients[date].max()),
                 *[str(len(gd)) for gd in g.values()], str(len(patients))])
    return Table("Enrolment by site", header, rows)


def safety_tables(patients: pd.DataFrame, events: pd.DataFrame | None, *, arm: str, arms: Sequence[str],
                  id_column: str = "patient_id") -> list[Table]:
    """Serious adverse events: patients with at least one event (overall, grade >= 4, fatal, possibly related)
    and events by term, per arm (or pooled)."""
    if events is None or id_column not in patients.columns:
        return []
    g = groups(patients, arm, arms)
    header = ["", *[f"{a} (n = {len(d)})" for a, d in g.items()]]
    ev = events.copy()
    ev["grade"] = pd.to_numeric(ev["grade"], errors="coerce") if "grade" in ev.columns else np.nan
    related = ev.get("related", pd.Series([""] * len(ev))).astype(str).isin(["possible", "probable", "definite"])

    def patients_with(mask: pd.Series) -> list[str]:
        ids = set(ev.loc[mask, id_column].astype(str))
        out = []
        for d in g.values():
            n = int(d[id_column].astype(str).isin(ids).sum())
            out.append(f"{n} ({100 * n / len(d):.1f}%)" if len(d) else "0")
        return out

    all_rows = [["Any serious adverse event", *patients_with(pd.Series(True, index=ev.index))],
                ["Grade 4 or higher", *patients_with(ev["grade"] >= 4)],
                ["Fatal (grade 5)", *patients_with(ev["grade"] == 5)],
                ["Possibly, probably or definitely related", *patients_with(related)]]
    summary = Table("Patients with serious adverse events", header, all_rows,
                    "Counts are patients with at least one event, % of patients randomised.")
    term_rows = []
    for term in sorted(ev["term"].astype(str).unique()) if "term" in ev.columns else []:
        cells = []
        for d in g.values():
            mask = (ev["term"].astype(str) == term) & ev[id_column].astype(str).isin(set(d[id_column].astype(str)))
            cells.append(f"{plural(int(mask.sum()), 'event')} / "
                         f"{plural(int(ev.loc[mask, id_column].nunique()), 'patient')}")
        term_rows.append([term, *cells])
    return [summary, Table("Serious adverse events by term", header, term_rows)]
