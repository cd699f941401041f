"""Reading trial data from a DataFrame with a column mapping, refusing what cannot be analysed.

The layout is *wide*: one row per randomised patient, one column per variable (see docs in README, "Data
layout"). Every refusal is a :class:`UserError` with one line naming the column, the line of the CSV file
(line 1 is the header, so row i of the frame is line i + 2) and the value. Missing outcomes are not errors:
those patients are left out of that analysis and counted in ``n_missing``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from equipoise.errors import UserError

TRUE_WORDS = {"1", "true", "yes", "y", "t"}
FALSE_WORDS = {"0", "false", "no", "n", "f"}


def line_of(df: pd.DataFrame, position: int) -> int:
    """CSV line of the row at ``position`` (header is line 1)."""
    return position + 2


PART_ARM_PREFIX = "arm_"  # the export's column of a further randomization's arm: arm_<part>


def require_columns(df: pd.DataFrame, columns: Sequence[str], what: str = "data") -> None:
    for col in columns:
        if col not in df.columns:
            available = ", ".join(map(str, df.columns[:20])) + (" ..." if len(df.columns) > 20 else "")
            raise UserError(f"{what}: no column {col!r} (columns are: {available})")


def show(value: object) -> str:
    """A cell value as the user wrote it (a float column shows 11.0 for 11)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return repr(int(value))
    return repr(value)


def is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and value.strip() in {"", "NA", "NaN", "nan"})


@dataclass(frozen=True)
class ArmPair:
    experimental: str
    control: str


def resolve_arms(df: pd.DataFrame, arm_column: str, control: str, experimental: str | None = None,
                 what: str = "data") -> ArmPair:
    """Check the arm column and name the two arms compared (the other arm, when only two are present).

    An export's ``arm_<part>`` column (a further randomization, RND-6) is empty for the patients not randomized
    in that part: they are not in its comparison, so they are left out rather than refused."""
    require_columns(df, [arm_column], what)
    values = df[arm_column]
    part = arm_column.startswith(PART_ARM_PREFIX)
    for pos, v in enumerate(values.tolist()):
        if is_missing(v) and not part:
            raise UserError(f"{what}: line {line_of(df, pos)}: column {arm_column!r} is empty (every randomised "
                            "patient needs an arm)")
    arms = sorted({str(v) for v in values.tolist() if not is_missing(v)})
    if control not in arms:
        raise UserError(f"{what}: control arm {control!r} not found in column {arm_column!r} "
                        f"(arms present: {', '.join(arms)})")
    others = [a for a in arms if a != control]
    if experimental is not None:
        if experimental not in arms:
            raise UserError(f"{what}: experimental arm {experimental!r} not found in column {arm_column!r} "
                            f"(arms present: {', '.join(arms)})")
        return ArmPair(experimental, control)
    if len(others) != 1:
        raise UserError(f"{what}: column {arm_column!r} has {len(others)} arms besides the control "
                        f"({', '.join(others) or 'none'}); name one with --experimental")
    return ArmPair(others[0], control)


def check_known_arms(df: pd.DataFrame, arm_column: str, known: Sequence[str], what: str = "data") -> None:
    """Refuse arms that the protocol does not define."""
    for pos, v in enumerate(df[arm_column].astype(str).tolist()):
        if v not in known:
            raise UserError(f"{what}: line {line_of(df, pos)}: arm {show(v)} in column {arm_column!r} is not an arm of "
                            f"the protocol ({', '.join(known)})")


def binary_column(df: pd.DataFrame, column: str, what: str = "data") -> npt.NDArray[np.float64]:
    """0/1 (also true/false, yes/no); NaN for missing."""
    require_columns(df, [column], what)
    out = np.full(len(df), np.nan)
    for pos, v in enumerate(df[column].tolist()):
        if is_missing(v):
            continue
        if isinstance(v, bool | np.bool_):
            out[pos] = float(v)
            continue
        text = str(v).strip().lower()
        if text.endswith(".0"):
            text = text[:-2]
        if text in TRUE_WORDS:
            out[pos] = 1.0
        elif text in FALSE_WORDS:
            out[pos] = 0.0
        else:
            raise UserError(f"{what}: line {line_of(df, pos)}: column {column!r} = {show(v)} is not 0/1 "
                            "(true/false and yes/no are accepted too)")
    return out


def numeric_column(df: pd.DataFrame, column: str, what: str = "data", *, minimum: float | None = None,
                   integer: bool = False, allowed: Sequence[int] | None = None, scale_name: str | None = None
                   ) -> npt.NDArray[np.float64]:
    """Numbers; NaN for missing. Refuses text, values below ``minimum``, non-integers or values off a scale."""
    require_columns(df, [column], what)
    out = np.full(len(df), np.nan)
    for pos, v in enumerate(df[column].tolist()):
        if is_missing(v):
            continue
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise UserError(f"{what}: line {line_of(df, pos)}: column {column!r} = {show(v)} is not a number") from None
        if not math.isfinite(x):
            raise UserError(f"{what}: line {line_of(df, pos)}: column {column!r} = {show(v)} is not a finite number")
        if minimum is not None and x < minimum:
            raise UserError(f"{what}: line {line_of(df, pos)}: column {column!r} = {show(v)} is negative"
                            if minimum == 0 else f"{what}: line {line_of(df, pos)}: column {column!r} = {show(v)} is "
                            f"below {minimum:g}")
        if integer and not x.is_integer():
            raise UserError(f"{what}: line {line_of(df, pos)}: column {column!r} = {show(v)} is not a whole number "
                            "(an ordinal level)")
        if allowed is not None and int(x) not in allowed:
            scale = scale_name or "the scale"
            raise UserError(f"{what}: line {line_of(df, pos)}: column {column!r} = {show(v)} is not a level of {scale} "
                            f"({min(allowed)}–{max(allowed)})")
        out[pos] = x
    return out


def status_column(df: pd.DataFrame, column: str, what: str = "data", competing: bool = False
                  ) -> npt.NDArray[np.float64]:
    """0 censored, 1 event (and 2 competing event when allowed); NaN for missing."""
    require_columns(df, [column], what)
    allowed = {0.0, 1.0, 2.0} if competing else {0.0, 1.0}
    out = np.full(len(df), np.nan)
    for pos, v in enumerate(df[column].tolist()):
        if is_missing(v):
            continue
        text = str(v).strip().lower()
        try:
            x = 1.0 if text in TRUE_WORDS else 0.0 if text in FALSE_WORDS else float(v)
        except (TypeError, ValueError):
            x = math.nan
        if x not in allowed:
            hint = "0 (censored), 1 (event) or 2 (competing event)" if competing else "0 (censored) or 1 (event)"
            raise UserError(f"{what}: line {line_of(df, pos)}: column {column!r} = {show(v)} is not {hint}")
        out[pos] = x
    return out


@dataclass(frozen=True)
class Design:
    """Covariate design matrix with R's treatment contrasts (first sorted level of a factor is reference)."""

    matrix: npt.NDArray[np.float64]
    names: tuple[str, ...]
    missing: npt.NDArray[np.bool_]


def covariate_design(df: pd.DataFrame, columns: Sequence[str], what: str = "data") -> Design:
    """Numeric columns enter as they are; other columns become indicator columns named column+level."""
    require_columns(df, list(columns), what)
    blocks: list[npt.NDArray[np.float64]] = []
    names: list[str] = []
    missing = np.zeros(len(df), bool)
    for col in columns:
        series = df[col]
        miss = np.array([is_missing(v) for v in series.tolist()])
        missing |= miss
        numeric = pd.to_numeric(series, errors="coerce")
        if series.dtype != bool and bool(numeric[~miss].notna().all()):
            blocks.append(numeric.to_numpy(float)[:, None])
            names.append(col)
            continue
        text = series.astype(str)
        levels = sorted(set(text[~miss].tolist()))
        if len(levels) < 2:
            raise UserError(f"{what}: covariate {col!r} has a single level ({', '.join(levels)}); it cannot be "
                            "adjusted for")
        for level in levels[1:]:
            blocks.append(np.asarray((text == level).to_numpy(float), dtype=np.float64)[:, None])
            names.append(f"{col}{level}")
    matrix = np.hstack(blocks) if blocks else np.zeros((len(df), 0))
    return Design(matrix, tuple(names), missing)


def strata_keys(df: pd.DataFrame, columns: Sequence[str], what: str = "data") -> npt.NDArray[np.str_]:
    require_columns(df, list(columns), what)
    for col in columns:
        for pos, v in enumerate(df[col].tolist()):
            if is_missing(v):
                raise UserError(f"{what}: line {line_of(df, pos)}: stratum column {col!r} is empty")
    return np.array(["|".join(map(str, row)) for row in df[list(columns)].itertuples(index=False)])
