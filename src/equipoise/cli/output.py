"""Printing results: a readable view by default, the result's ``to_dict()`` as JSON with ``--json``."""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
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


def _check_picture(path: Path) -> None:
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise UserError(f"--plot: {path} must end in .png, .svg or .pdf")


def save_plot(figure: Any, path: Path, *, tight: bool = False) -> None:
    """Write a matplotlib figure to ``path`` (PNG, SVG or PDF; ``tight``: trimmed, 150 dpi) and say so on stderr."""
    _check_picture(path)
    try:
        figure.savefig(path, **({"bbox_inches": "tight", "dpi": 150} if tight else {}))
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise UserError(f"--plot: cannot write {path} ({reason})") from None
    error_console.print(f"wrote {path}", markup=False)


def show(result: Any, as_json: bool, plot: Path | None = None, *, extra: Mapping[str, Any] | None = None,
         tight: bool = False) -> None:
    """Print a result readable (``str``) or as JSON (``to_dict()``), each ``extra`` result beside it (e.g. a
    posterior: a key of the JSON, an indented line of the text); then save ``result.plot()`` when ``plot`` names a
    file (see ``save_plot``)."""
    if plot is not None:
        _check_picture(plot)  # before anything is printed
    others = {key: value for key, value in (extra or {}).items() if value is not None}
    if as_json:
        data = result.to_dict()
        data.update({key: value.to_dict() for key, value in others.items()})
        print_json(data)
    else:
        print_plain(str(result))
        for value in others.values():
            print_plain("  " + str(value))
    if plot is not None:
        save_plot(result.plot(), plot, tight=tight)


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
