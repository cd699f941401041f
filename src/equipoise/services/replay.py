"""``equipoise allocation replay``: recompute every stored allocation from its inputs and draws (RND-7).

Per state row (a stratum, or the trial for minimization) the allocations are taken in sequence order,
starting from the scheme's initial state; each is recomputed from its stored request and draws with the
protocol version in force on its date (and, for a list, the uploaded list it names, whose entries must still
match their audited checksum), and must give the same arm, state and diagnostics. The state rows of further
randomizations (RND-6) hold that part's allocations, recomputed with the part read as its own protocol. Sequence numbers
must run 1..n without a gap or a repeat, and the state row must equal the last allocation's state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from equipoise.errors import NotFoundError
from equipoise.identity.principal import Principal
from equipoise.identity.roles import Action
from equipoise.services import allocator
from equipoise.services.emergency_envelopes import METHOD, envelope_of
from equipoise.services.randomization_lists import LoadedListEntries, list_digest, load_list
from equipoise.services.trials import in_force
from equipoise.store.db import Database
from equipoise.store.models import Allocation, AllocationState, Trial, patient_code
from equipoise.store.part_models import PART_STATE_PREFIX, PartAllocation


@dataclass(frozen=True)
class ReplayDifference:
    allocation_id: int | None
    patient: str | None
    state_key: str
    message: str

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)

    def __str__(self) -> str:
        who = f"allocation {self.allocation_id} ({self.patient})" if self.allocation_id else f"state {self.state_key!r}"
        return f"{who}: {self.message}"


@dataclass(frozen=True)
class ReplayReport:
    trial_id: str
    allocations: int
    states: int
    differences: list[ReplayDifference] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences

    def __str__(self) -> str:
        if self.identical:
            return (f"{self.trial_id}: replayed {self.allocations} allocations in {self.states} sequences: "
                    "every allocation identical")
        lines = [f"{self.trial_id}: {len(self.differences)} difference(s) in {self.allocations} allocations"]
        lines += [f"  - {d}" for d in self.differences[:50]]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        # Differences name allocations, never arms: the report is safe to show to blinded operators.
        return {"trial_id": self.trial_id, "allocations": self.allocations, "states": self.states,
                "identical": self.identical, "differences": [d.to_dict() for d in self.differences]}


def replay_for(db: Database, principal: Principal, trial_id: str) -> ReplayReport:
    """``replay_trial`` for a role allowed to replay the trial's allocations (RND-7)."""
    principal.require(Action.REPLAY, trial_id)
    return replay_trial(db, trial_id)


def replay_trial(db: Database, trial_id: str) -> ReplayReport:
    differences: list[ReplayDifference] = []
    total = 0
    lists: dict[int, LoadedListEntries | None] = {}
    with db.read() as s:
        trial = s.get(Trial, trial_id)
        if trial is None:
            raise NotFoundError(f"no trial {trial_id!r}")
        states = s.scalars(select(AllocationState).where(AllocationState.trial_id == trial_id)
                           .order_by(AllocationState.id)).all()
        for state_row in states:
            rows: Sequence[Allocation | PartAllocation]
            if state_row.state_key.startswith(PART_STATE_PREFIX):
                rows = s.scalars(select(PartAllocation).where(PartAllocation.state_id == state_row.id)
                                 .order_by(PartAllocation.sequence)).all()
            else:
                rows = s.scalars(select(Allocation).where(Allocation.state_id == state_row.id)
                                 .order_by(Allocation.sequence)).all()
            state: dict[str, Any] | None = None
            for position in range(len(rows)):
                expected = position + 1
                row = rows[position]  # (enumerate would widen the union to their base class for mypy)
                total += 1
                who = patient_code(row.patient_id)

                def differ(message: str, row: Allocation | PartAllocation = row, who: str = who,
                           key: str = state_row.state_key) -> None:
                    differences.append(ReplayDifference(row.id, who, key, message))

                if row.sequence != expected:
                    differ(f"sequence number {row.sequence} where {expected} was expected (skipped or repeated)")
                protocol = in_force(trial, row.allocation_date)
                if isinstance(row, PartAllocation):
                    part = protocol.further_randomization(row.part_id)
                    if part is None:
                        differ(f"further randomization {row.part_id} is not in protocol version "
                               f"{protocol.trial.version}")
                        state = dict(row.state_after)
                        continue
                    protocol = protocol.part_protocol(part)
                if protocol.trial.version != row.protocol_version:
                    differ(f"recorded under protocol version {row.protocol_version}, but version "
                           f"{protocol.trial.version} was in force on {row.allocation_date}")
                if isinstance(row, Allocation) and row.method == METHOD:  # back-entered: the envelope's arm
                    _check_envelope(s, row, expected, differ)
                    state = {"used": expected}
                    continue
                try:
                    entries = (_list_of(s, row, lists, differ)
                               if isinstance(row, Allocation) and row.method == "list" else None)
                    scheme = allocator.scheme_for(protocol, entries)
                    if scheme.parameters() != row.parameters:
                        differ("stored algorithm parameters differ from the protocol's")
                    if state is None:
                        state = scheme.initial_state()
                    result = allocator.replay_one(protocol, row.request, state, list(row.draws), entries)
                except (allocator.AllocationError, allocator.ReplayExhausted) as exc:
                    differ(f"cannot be recomputed: {exc}")
                    state = dict(row.state_after)
                    continue
                if result.arm != row.arm:
                    differ("the recomputed arm differs from the stored arm")
                if result.state != row.state_after:
                    differ("the recomputed state differs from the stored state")
                if result.diagnostics != row.diagnostics:
                    differ("the recomputed diagnostics differ from the stored ones")
                state = result.state
            if state_row.count != len(rows):
                differences.append(ReplayDifference(None, None, state_row.state_key,
                                                    f"state row counts {state_row.count} allocations, "
                                                    f"{len(rows)} are stored"))
            if rows and state is not None and state != state_row.state:
                differences.append(ReplayDifference(None, None, state_row.state_key,
                                                    "the stored state differs from the replay of its allocations"))
    return ReplayReport(trial_id, total, len(states), differences)


def _list_of(s: Session, row: Allocation, lists: dict[int, LoadedListEntries | None],
             differ: Callable[[str], None]) -> LoadedListEntries | None:
    """The uploaded list a list allocation names, if it is there and its entries match its audited checksum."""
    ref = row.parameters.get("list") if isinstance(row.parameters, dict) else None
    list_id = ref.get("id") if isinstance(ref, dict) else None
    if not isinstance(list_id, int):
        differ("a list allocation that names no list")
        return None
    if list_id not in lists:
        loaded = load_list(s, list_id)
        if loaded is not None and list_digest((k[0], k[1], arm) for k, arm in loaded.arms.items()) != loaded.sha256:
            differ(f"randomization list {list_id}: its entries do not match its checksum (changed after upload)")
        lists[list_id] = loaded
    if lists[list_id] is None:
        differ(f"randomization list {list_id} is missing")
    return lists[list_id]


def _check_envelope(s: Session, row: Allocation, sequence: int, differ: Callable[[str], None]) -> None:
    """A back-entered allocation must name the envelope that records it, with the same arm and kit code."""
    envelope = envelope_of(s, row)
    if envelope is None or envelope.number != row.diagnostics.get("envelope"):
        differ("no emergency envelope records this back-entered allocation")
        return
    if envelope.arm != row.arm or envelope.kit_code != row.kit_code:
        differ(f"emergency envelope {envelope.number} holds another arm or kit code than the allocation")
    if row.state_after != {"used": sequence}:
        differ("the recomputed state differs from the stored state")
