"""``equipoise evidence certainty``: a GRADE-style certainty summary of the pooled outcome of a trial-level CSV
(risk of bias from the trials' design flags, inconsistency, indirectness, imprecision with the TSA's
information size, publication bias)."""

from __future__ import annotations

import csv
from pathlib import Path

import typer

from equipoise.cli.evidence_meta_csv import parse_column_map, read_study_table
from equipoise.cli.output import JsonOption, print_json, print_plain
from equipoise.errors import UserError
from equipoise.evidence.certainty import TrialBias, assess_certainty, parse_bias, parse_concern, trial_bias
from equipoise.evidence.effect_sizes import parse_measure
from equipoise.evidence.egger import egger_test
from equipoise.evidence.pooled import Method, parse_method
from equipoise.evidence.study_table import fit_model
from equipoise.evidence.tsa import trial_sequential_analysis

certainty_commands = typer.Typer()

FLAG_COLUMNS = ("randomized", "concealed", "blinded")
TRUE = {"yes", "y", "true", "t", "1"}
FALSE = {"no", "n", "false", "f", "0"}


def _flag(path: Path, line: int, column: str, text: str | None) -> bool | None:
    t = (text or "").strip().lower()
    if t in {"", "na", "unclear", "not reported", "unknown"}:
        return None
    if t in TRUE:
        return True
    if t in FALSE:
        return False
    raise UserError(f"{path}, line {line}, column {column}: {text!r} is not yes/no (or empty when not reported)")


def read_trial_bias(path: Path, column_map: dict[str, str]) -> list[TrialBias]:
    """Each trial's risk of bias from the columns ``risk_of_bias`` (low/some/high) or ``randomized``,
    ``concealed``, ``blinded`` (yes/no; empty when not reported)."""
    col = {n: column_map.get(n, n) for n in ("study", "risk_of_bias", *FLAG_COLUMNS)}
    out: list[TrialBias] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle, skipinitialspace=True)
        for raw in reader:
            row = {(k or "").strip(): v for k, v in raw.items()}
            study = (row.get(col["study"]) or "").strip()
            stated = None
            text = (row.get(col["risk_of_bias"]) or "").strip()
            if text:
                stated = parse_bias(text)
                if stated is None:
                    raise UserError(f"{path}, line {reader.line_num}, column {col['risk_of_bias']}: {text!r} is not "
                                    "low, some or high")
            flags = {n: _flag(path, reader.line_num, col[n], row.get(col[n])) for n in FLAG_COLUMNS}
            out.append(trial_bias(study, stated=stated, **flags))
    studies = [t.study for t in out]
    if len(set(studies)) != len(studies):
        dup = sorted({s for s in studies if studies.count(s) > 1})
        raise UserError(f"{path}: trial names must be unique for the certainty summary; repeated: {', '.join(dup)}")
    return out


def _appreciable(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        raise UserError(f"--appreciable: {text!r} is not LOW,HIGH (e.g. 0.75,1.25)") from None
    if not low < high:
        raise UserError(f"--appreciable: {text!r}: LOW must be below HIGH")
    return (low, high)


@certainty_commands.command("certainty")
def certainty(
    file: Path = typer.Argument(..., help="CSV, one row per trial, as for 'evidence meta', with the columns "
                                          "risk_of_bias (low/some/high) or randomized, concealed, blinded "
                                          "(yes/no)."),
    measure: str = typer.Option("RR", "--measure", help="RR, OR, RD, MD, SMD or GEN."),
    method: str = typer.Option("REML", "--method", help="Pooling method (as for 'evidence meta')."),
    hksj: bool = typer.Option(False, "--hksj", help="Hartung-Knapp-Sidik-Jonkman CI (random effects)."),
    outcome: str = typer.Option("pooled outcome", "--outcome", help="The outcome's name, e.g. 'mortality'."),
    threshold: float | None = typer.Option(None, "--threshold", help="Decision threshold on the natural scale "
                                                                     "(default: no effect, 1 or 0)."),
    appreciable: str | None = typer.Option(None, "--appreciable", help="Appreciable benefit and harm LOW,HIGH "
                                                                       "(default for ratios 0.75,1.25)."),
    control_risk: float | None = typer.Option(None, "--control-risk", help="TSA: assumed control-arm risk."),
    rrr: float | None = typer.Option(None, "--rrr", help="TSA: assumed relative risk reduction."),
    mean_difference: float | None = typer.Option(None, "--mean-difference", help="TSA: assumed mean difference."),
    sd: float | None = typer.Option(None, "--sd", help="TSA: assumed standard deviation."),
    indirectness: str = typer.Option("none", "--indirectness", help="none, serious or very-serious."),
    indirectness_reason: str | None = typer.Option(None, "--indirectness-reason", help="Why."),
    publication_bias: str = typer.Option("none", "--publication-bias", help="none, serious or very-serious."),
    publication_bias_reason: str | None = typer.Option(None, "--publication-bias-reason", help="Why."),
    column: list[str] | None = typer.Option(None, "--column", help="Map a column: NAME=CSV_COLUMN (repeatable)."),
    as_json: bool = JsonOption,
) -> None:
    """How sure can anyone be? The GRADE domains, each downgrade with its reason."""
    the_measure = parse_measure(measure)
    the_method = parse_method(method)
    columns = parse_column_map(column)
    concerns = (parse_concern(indirectness, "--indirectness"), parse_concern(publication_bias, "--publication-bias"))
    appr = _appreciable(appreciable)
    table = read_study_table(file, the_measure, columns)
    trials = read_trial_bias(file, columns)
    pooled = fit_model(table, the_measure, the_method, hksj)
    tsa = None
    if any(v is not None for v in (control_risk, rrr, mean_difference, sd)):
        tsa = trial_sequential_analysis(table, the_measure, the_method if the_method.is_random else Method.DL,
                                        control_risk=control_risk, rrr=rrr, mean_difference=mean_difference, sd=sd)
    egger = egger_test(pooled) if pooled.effects.k >= 10 else None
    result = assess_certainty(
        pooled, trials, outcome=outcome, threshold=threshold, appreciable=appr, tsa=tsa, egger=egger,
        indirectness=concerns[0], indirectness_reason=indirectness_reason, publication_bias=concerns[1],
        publication_bias_reason=publication_bias_reason)
    if as_json:
        print_json(result.to_dict())
    else:
        print_plain(str(result))
