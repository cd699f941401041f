"""The clock the services read and the date at a trial site (a site's local date, not the server's)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from equipoise.protocol import Protocol

Clock = Callable[[], dt.datetime]


def local_date(protocol: Protocol, site_id: str, now: dt.datetime) -> dt.date:
    """The enrolment date is the date at the site (a 23:30 enrolment in Wuhan is not 'yesterday')."""
    site = protocol.site(site_id)
    return now.astimezone(ZoneInfo(site.timezone)).date() if site else now.date()
