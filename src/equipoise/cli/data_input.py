"""Reading a CSV for the analysis and report commands: missing files and unreadable CSVs are user errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from equipoise.errors import UserError


def read_csv(path: Path, option: str = "--data") -> pd.DataFrame:
    if not path.exists():
        raise UserError(f"{option}: file not found: {path}")
    try:
        df = pd.read_csv(path, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{option}: {path} is not a readable CSV file ({first})") from None
    if df.empty:
        raise UserError(f"{option}: {path} has a header but no rows")
    return df


def split_list(text: str | None) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()] if text else []
