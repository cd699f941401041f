"""Replay: recompute every stored allocation from the initial state and report each difference.

References
----------
Rosenberger WF, Lachin JM (2016). Randomization in Clinical Trials: Theory and Practice, 2nd ed.
Wiley (randomization-based inference needs the allocation sequence to be reproducible).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from equipoise.allocate.errors import AllocationError
from equipoise.allocate.request import AllocationRequest
from equipoise.allocate.scheme import Scheme
from equipoise.allocate.sources import ReplayExhausted, ReplaySource


class ReplayRecord(NamedTuple):
    """One stored allocation, as the server recorded it (a plain 5-tuple in this order works too)."""

    state_key: str
    request: Mapping[str, Any]
    draws: Sequence[float]
    arm: str
    diagnostics: Mapping[str, Any] | None
    sequence: int | None = None  # the store's allocation number; default: position in the records, from 1


@dataclass(frozen=True)
class ReplayDifference:
    """Where a stored allocation and its replay disagree: ``expected`` is what was stored, ``got`` the replay."""

    sequence: int
    field: str  # state_key, request, draws, arm or diagnostics
    expected: Any
    got: Any

    def to_dict(self) -> dict[str, Any]:
        return {"sequence": self.sequence, "field": self.field, "expected": self.expected, "got": self.got}

    def __str__(self) -> str:
        return f"allocation {self.sequence}: {self.field} stored {self.expected!r}, replay gives {self.got!r}"


@dataclass(frozen=True)
class ReplayReport:
    """The outcome of a replay; ``final_states`` are the state rows the replay ends with, to compare with the
    store's current rows."""

    checked: int
    differences: tuple[ReplayDifference, ...]
    final_states: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.differences

    @property
    def first_difference(self) -> ReplayDifference | None:
        return self.differences[0] if self.differences else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "ok": self.ok,
            "differences": [d.to_dict() for d in self.differences],
            "final_states": self.final_states,
        }

    def __str__(self) -> str:
        if self.ok:
            return f"replay: all {self.checked} allocations reproduced exactly"
        lines = [f"replay: {len(self.differences)} difference(s) in {self.checked} allocations"]
        lines += [f"  {d}" for d in self.differences]
        return "\n".join(lines)


SchemeChoice = Scheme | Sequence[Scheme] | Callable[[ReplayRecord], Scheme]


def replay(
    scheme_for_each: SchemeChoice,
    records: Sequence[ReplayRecord | tuple[Any, ...]],
) -> ReplayReport:
    """Recompute every allocation, in order, from the initial states and the stored draws.

    ``scheme_for_each`` is one scheme for all records, a sequence with one scheme per record, or a function
    of the record (e.g. the scheme of the protocol version in force when it was made). Each record's state
    key is recomputed from its request; the replay carries on with the *recomputed* state, so a tampered arm is
    reported once, while a tampered draw or request may also change later allocations of the same state row
    (each is reported). A request that no longer parses, too few draws, unused draws, another arm and other
    diagnostics are all differences; nothing raises.
    """
    states: dict[str, dict[str, Any]] = {}
    differences: list[ReplayDifference] = []
    for position, raw in enumerate(records, start=1):
        record = raw if isinstance(raw, ReplayRecord) else ReplayRecord(*raw)
        number = record.sequence if record.sequence is not None else position
        scheme = _scheme(scheme_for_each, record, position)

        def differ(what: str, expected: Any, got: Any, number: int = number) -> None:
            differences.append(ReplayDifference(number, what, expected, got))

        try:
            request = AllocationRequest.from_dict(record.request)
            key = scheme.state_key(request)
        except AllocationError as error:
            differ("request", dict(record.request), f"unusable: {error}")
            continue
        if key != record.state_key:
            differ("state_key", record.state_key, key)
        try:
            source = ReplaySource(record.draws)
        except ValueError as error:
            differ("draws", list(record.draws), f"unusable: {error}")
            continue
        state = states.get(key)
        try:
            allocation = scheme.allocate(state if state is not None else scheme.initial_state(), request, source)
        except ReplayExhausted as error:
            differ("draws", list(record.draws), f"too few: {error}")
            continue
        except AllocationError as error:
            differ("request", dict(record.request), f"refused: {error}")
            continue
        states[key] = allocation.state
        if source.remaining:
            differ("draws", list(record.draws), f"only {source.consumed} used")
        if allocation.arm != record.arm:
            differ("arm", record.arm, allocation.arm)
        if record.diagnostics is not None and not same_json(record.diagnostics, allocation.diagnostics):
            differ("diagnostics", dict(record.diagnostics), allocation.diagnostics)
    return ReplayReport(checked=len(records), differences=tuple(differences), final_states=states)


def _scheme(choice: SchemeChoice, record: ReplayRecord, position: int) -> Scheme:
    if isinstance(choice, Scheme):
        return choice
    if callable(choice):
        return choice(record)
    return choice[position - 1]


def same_json(a: Any, b: Any, rel: float = 1e-12) -> bool:
    """Equal as JSON values, floats to ``rel`` (a database's JSON column may print a float differently)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-15)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same_json(a[k], b[k], rel) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same_json(x, y, rel) for x, y in zip(a, b, strict=True))
    return bool(a == b)
