"""Time to an event from dates, censored at the outcome's day: the one rule shared by the analysis (which derives
``<id>_time`` and ``<id>_status`` from date columns) and the trial server's export (which writes them).

Kept free of pandas so that the server can import it cheaply.

References
----------
Klein JP, Moeschberger ML (2003). Survival Analysis: Techniques for Censored and Truncated Data, 2nd ed.
Springer, section 1.2 (right censoring).
"""

from __future__ import annotations

import datetime as dt


def event_time(start: dt.date, event: dt.date | None, competing: dt.date | None, horizon: float
               ) -> tuple[float, int]:
    """(days from ``start``, status): status 1 when the event happens by day ``horizon``; else 2 when the competing
    event (death) happens by then, at its day; else 0, censored at ``horizon``. An event on day ``horizon``
    counts (day 28 is within "by day 28"). The caller refuses an event dated before ``start``."""
    if event is not None and (event - start).days <= horizon:
        return float((event - start).days), 1
    if competing is not None and (competing - start).days <= horizon:
        return float(max((competing - start).days, 0)), 2
    return float(horizon), 0
