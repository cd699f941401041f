"""Printing results: a readable view by default, the result's ``to_dict()`` as JSON with ``--json``."""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from typing import Any

import typer
from rich.console import Console

from equipoise.errors import UserError

console = Console(highlight=False, soft_wrap=False)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)

JsonOption = typer.Option(False, "--json", help="Print the result as JSON instead of a readable view.")


def _default(value: object) -> object:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_default, allow_nan=False) + "\n")


def print_plain(text: str) -> None:
    """Print text exactly: no Rich markup (field paths such as arms[2] have brackets), no wrapping."""
    sys.stdout.write(text + "\n")


def parse_date(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{option}: {text!r} is not a date in the form YYYY-MM-DD") from None


def require_positive(value: float | None, option: str, *, zero: bool = False) -> None:
    """A number option must be finite and above 0 (or at least 0 with ``zero``); None means not given."""
    if value is None:
        return
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise UserError(f"{option}: must be a finite number {'of 0 or more' if zero else 'above 0'} (got {value:g})")


def print_report(report: Any, as_json: bool) -> None:
    """A check's report, readable or as JSON; exit 1 when it is not clean (``report.ok`` false)."""
    if as_json:
        print_json(report.to_dict())
    else:
        print_plain(str(report))
    if not report.ok:
        raise typer.Exit(1)
