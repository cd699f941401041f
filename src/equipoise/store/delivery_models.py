"""The table of notification deliveries to another system (UNB-1: the sponsor's safety database is told).

One row per notification: where it goes, how many attempts, the last error, when it was delivered. Audited, so
the trail shows when the sponsor's system accepted the notice of an emergency unblinding. Imported at the end of
``equipoise.store.models`` so the audit trail knows it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from equipoise.store.base import Base
from equipoise.store.types import UTCDateTime


class NotificationDelivery(Base):
    __tablename__ = "notification_deliveries"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.id"), index=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), unique=True)
    target: Mapped[str] = mapped_column(String(500))  # the URL without credentials or query
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
