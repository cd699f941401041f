"""Reading a CSV for the analysis and report commands: missing files and unreadable CSVs are user errors."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd

from equipoise.errors import UserError
from equipoise.user_files import MAX_DATA_BYTES, read_user_text


def read_csv(path: Path, option: str = "--data") -> pd.DataFrame:
    text = read_user_text(path, max_bytes=MAX_DATA_BYTES, option=option)
    try:
        df = pd.read_csv(io.StringIO(text), skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{option}: {path} is not a readable CSV file ({first})") from None
    if df.empty:
        raise UserError(f"{option}: {path} has a header but no rows")
    return df


def split_list(text: str | None) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()] if text else []


def read_json(path: Path, option: str) -> dict[str, Any]:
    """A JSON object from a file a person named (a design's options), under the reader's limits."""
    text = read_user_text(path, option=option)
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{option}: {path}: line {exc.lineno}: not JSON ({exc.msg}); a protocol must end in "
                        ".yaml") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise UserError(f"{option}: {path}: cannot read a value ({exc})") from None
    except RecursionError:
        raise UserError(f"{option}: {path}: nested too deeply to be a design") from None
    if not isinstance(loaded, dict):
        raise UserError(f"{option}: {path} must hold a JSON object")
    return loaded
