"""The table of further randomizations (factorial parts, later re-randomizations; RND-6).

A row holds, like an ``allocations`` row, everything needed to recompute it (RND-7): the request, the
algorithm's parameters, the draws and the state after it; its state row is an ``allocation_states`` row whose
key starts with ``part:<part id>|``. A blinded part's row carries a kit code; its arm is masked in the audit
trail shown to blinded roles, as the main allocation's is (an open-label part's arm too: the trail does not
know which part an entry's arm belongs to, so it masks every part's). The draws and states are secrets of the
trail. Imported at the end of ``equipoise.store.models`` so the audit trail knows it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from equipoise.store.base import Base
from equipoise.store.models import Recomputable
from equipoise.store.types import UTCDateTime, utcnow

JsonDict = dict[str, Any]
PART_STATE_PREFIX = "part:"


def part_state_key(part_id: str, key: str) -> str:
    """The state row of one sequence of a part, apart from the main randomization's rows."""
    return f"{PART_STATE_PREFIX}{part_id}|{key}"


class PartAllocation(Recomputable, Base):
    __tablename__ = "part_allocations"
    __audited__ = True
    __audit_secret__ = frozenset({"arm", "state_after", "draws", "diagnostics", "parameters", "request"})
    __table_args__ = (
        UniqueConstraint("trial_id", "idempotency_key", name="uq_part_allocations_trial_idempotency"),
        UniqueConstraint("patient_id", "part_id", name="uq_part_allocations_patient_part"),
        UniqueConstraint("state_id", "sequence", name="uq_part_allocations_state_sequence"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    part_id: Mapped[str] = mapped_column(String(64))
    state_id: Mapped[int] = mapped_column(ForeignKey("allocation_states.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    stratum: Mapped[str] = mapped_column(String(400))
    factors: Mapped[JsonDict] = mapped_column(JSON)
    part_values: Mapped[JsonDict] = mapped_column(JSON)  # the part's fields as entered, frozen (RND-4)
    arm: Mapped[str] = mapped_column(String(64))
    # A blinded part's kit (migration 0016; entries written before it carry none: open-label parts only).
    kit_code: Mapped[str | None] = mapped_column(String(40), default=None, info={"audit_default": None})
    protocol_version: Mapped[str] = mapped_column(String(32))
    allocation_date: Mapped[dt.date] = mapped_column(Date)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    allocated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    allocated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
