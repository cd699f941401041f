"""Time to an event and its status from dates, as trial data arrive: randomisation date, event date, competing
event date, and the end of each patient's follow-up (a censoring date column, a fixed follow-up in days, or
the data cut-off date, whichever comes first).

The rule (standard right censoring; Klein & Moeschberger 2003, section 1.2; Collett 2015, section 1.1): a patient
is followed from randomisation until the end of follow-up. An event on or before that day gives status 1 at its
day; otherwise a competing event on or before it gives status 2 (or, when competing events are not analysed as
such, censoring on its day); otherwise the patient is censored (status 0) at the end of follow-up. An event on
the last day of follow-up counts ("by day 28" includes day 28), as in ``events.event_time``. A patient with an
event and no end of follow-up recorded (an empty censoring date, no fixed follow-up or cut-off) has the event.

References
----------
Klein JP, Moeschberger ML. Survival Analysis: Techniques for Censored and Truncated Data, 2nd ed. Springer 2003.
Collett D. Modelling Survival Data in Medical Research, 3rd ed. CRC 2015.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from equipoise.analyze.data import is_missing, line_of, require_columns
from equipoise.errors import UserError

TIME_COLUMN = "time_from_dates"
STATUS_COLUMN = "status_from_dates"


@dataclass(frozen=True)
class DateRule:
    """Which columns hold the dates and how follow-up ends."""

    start: str
    event: str
    competing: str | None = None
    censor: str | None = None
    follow_up_days: float | None = None
    cutoff: dt.date | None = None
    competing_as_status_2: bool = True

    def describe(self) -> str:
        ends = [f"the date in {self.censor!r}"] if self.censor else []
        if self.follow_up_days is not None:
            ends.append(f"day {self.follow_up_days:g}")
        if self.cutoff is not None:
            ends.append(f"the data cut-off {self.cutoff.isoformat()}")
        competing = ""
        if self.competing:
            competing = (f"; a competing event on the date in {self.competing!r} is status 2" if
                         self.competing_as_status_2 else f"; the date in {self.competing!r} censors")
        return (f"time in days from {self.start!r} to the event date in {self.event!r}{competing}; follow-up ends "
                f"at the earliest of {', '.join(ends)} (censored there, status 0)")


def _date(df: pd.DataFrame, column: str, pos: int, what: str) -> dt.date | None:
    value = df[column].iloc[pos]
    if is_missing(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise UserError(f"{what}: line {line_of(df, pos)}: column {column!r} = {value!r} is not a date "
                        "YYYY-MM-DD") from None


def times_from_dates(df: pd.DataFrame, rule: DateRule, what: str = "data") -> pd.DataFrame:
    """``df`` with ``time_from_dates`` (days) and ``status_from_dates`` (0, 1, 2) computed by ``rule``."""
    columns = [c for c in (rule.start, rule.event, rule.competing, rule.censor) if c is not None]
    require_columns(df, columns, what)
    if rule.censor is None and rule.follow_up_days is None and rule.cutoff is None:
        raise UserError("say when follow-up ends: a censoring date column (--censor-date), a follow-up in days "
                        "(--follow-up-days) or the data cut-off date (--cutoff)")
    if rule.follow_up_days is not None and not rule.follow_up_days > 0:
        raise UserError(f"--follow-up-days must be positive, not {rule.follow_up_days:g}")
    times = np.empty(len(df))
    status = np.empty(len(df))
    for pos in range(len(df)):
        start = _date(df, rule.start, pos, what)
        if start is None:
            raise UserError(f"{what}: line {line_of(df, pos)}: column {rule.start!r} (the start of follow-up) is "
                            "empty")
        event = _date(df, rule.event, pos, what)
        competing = _date(df, rule.competing, pos, what) if rule.competing else None
        ends = [d for d in ((_date(df, rule.censor, pos, what) if rule.censor else None), rule.cutoff) if d]
        limits = [float((d - start).days) for d in ends]
        if rule.follow_up_days is not None:
            limits.append(rule.follow_up_days)
        for name, day in ((rule.event, event), (rule.competing, competing)):
            if day is not None and day < start:
                raise UserError(f"{what}: line {line_of(df, pos)}: {name!r} ({day}) is before {rule.start!r} "
                                f"({start})")
        if not limits and event is None and competing is None:
            raise UserError(f"{what}: line {line_of(df, pos)}: no event and column {rule.censor!r} is empty (and no "
                            "--follow-up-days or --cutoff): when did this patient's follow-up end?")
        end = min(limits) if limits else float("inf")  # an event with no end of follow-up given is observed
        if end < 0:
            raise UserError(f"{what}: line {line_of(df, pos)}: follow-up ends before {rule.start!r} ({start})")
        e_day = float((event - start).days) if event is not None else None
        c_day = float((competing - start).days) if competing is not None else None
        if e_day is not None and e_day <= end and (c_day is None or e_day <= c_day):
            times[pos], status[pos] = e_day, 1
        elif c_day is not None and c_day <= end:
            times[pos], status[pos] = c_day, 2 if rule.competing_as_status_2 else 0
        else:
            times[pos], status[pos] = end, 0
    out = df.copy()
    out[TIME_COLUMN] = times
    out[STATUS_COLUMN] = status.astype(int)
    return out
