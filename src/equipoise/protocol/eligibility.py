"""Eligibility criteria over enrolment fields, and their evaluation for one patient.

Each criterion is a condition ``field op value``. An inclusion criterion is met when the condition holds;
an exclusion criterion is met when it does not (its condition describes who is excluded). A patient is
eligible when every criterion is met; a missing value never counts as met.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import Field

from equipoise.protocol.base import Identifier, ProtocolModel

Scalar = bool | int | float | dt.date | str
CriterionValue = Scalar | list[Scalar]


class Operator(StrEnum):
    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    BETWEEN = "between"
    IN = "in"
    NOT_IN = "not-in"
    WITHIN_DAYS = "within-days"


ORDERING_OPERATORS = frozenset({Operator.LT, Operator.LE, Operator.GT, Operator.GE, Operator.BETWEEN})


class CriterionKind(StrEnum):
    INCLUSION = "inclusion"
    EXCLUSION = "exclusion"


class Criterion(ProtocolModel):
    id: Identifier
    text: str = Field(min_length=1, description="The criterion as the coordinator reads it.")
    kind: CriterionKind = CriterionKind.INCLUSION
    field: Identifier = Field(description="The enrolment field the condition is about.")
    op: Operator
    value: CriterionValue = Field(
        description="Compared with the field: a number, date, choice or boolean; a list for in/not-in; "
        "[low, high] for between; a number of days for within-days (the date lies on or before the "
        "enrolment date and at most that many days earlier)."
    )


def _condition(op: Operator, actual: Scalar, expected: CriterionValue, on: dt.date) -> bool:
    if op is Operator.EQ:
        return actual == expected
    if op is Operator.NE:
        return actual != expected
    if op is Operator.IN:
        return isinstance(expected, list) and actual in expected
    if op is Operator.NOT_IN:
        return isinstance(expected, list) and actual not in expected
    if op is Operator.WITHIN_DAYS:
        if not isinstance(actual, dt.date) or isinstance(expected, list | bool | str | dt.date):
            return False
        return actual <= on and (on - actual).days <= expected
    if op is Operator.BETWEEN:
        if not isinstance(expected, list) or len(expected) != 2:
            return False
        return bool(expected[0] <= actual <= expected[1])  # type: ignore[operator]
    comparisons = {
        Operator.LT: lambda a, b: a < b,
        Operator.LE: lambda a, b: a <= b,
        Operator.GT: lambda a, b: a > b,
        Operator.GE: lambda a, b: a >= b,
    }
    return bool(comparisons[op](actual, expected))


@dataclass(frozen=True)
class CriterionResult:
    """How one criterion came out: met, not met, or unknown because its field is missing."""

    id: str
    text: str
    kind: CriterionKind
    met: bool | None
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "text": self.text, "kind": self.kind.value, "met": self.met, "reason": self.reason}

    def __str__(self) -> str:
        status = "unknown" if self.met is None else ("met" if self.met else "not met")
        return f"{self.kind.value} criterion {self.id}: {status} ({self.reason})"


@dataclass(frozen=True)
class EligibilityResult:
    eligible: bool
    criteria: tuple[CriterionResult, ...]

    @property
    def failed(self) -> tuple[CriterionResult, ...]:
        return tuple(c for c in self.criteria if c.met is False)

    @property
    def missing(self) -> tuple[CriterionResult, ...]:
        return tuple(c for c in self.criteria if c.met is None)

    def __str__(self) -> str:
        if self.eligible:
            return "Eligible: all criteria met."
        lines = ["Not eligible:"]
        lines += [f"  - {c.reason}" for c in (*self.failed, *self.missing)]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "eligible": self.eligible,
            "failed": [c.to_dict() for c in self.failed],
            "missing": [c.to_dict() for c in self.missing],
            "criteria": [c.to_dict() for c in self.criteria],
        }


def evaluate_eligibility(
    criteria: Sequence[Criterion], values: Mapping[str, object], enrolment_date: dt.date
) -> EligibilityResult:
    """Evaluate every criterion (never stopping at the first failure) so the coordinator sees them all."""
    results: list[CriterionResult] = []
    for criterion in criteria:
        actual = values.get(criterion.field)
        if actual is None or actual == "":
            results.append(
                CriterionResult(criterion.id, criterion.text, criterion.kind, None,
                                f"{criterion.text}: '{criterion.field}' is missing")
            )
            continue
        try:
            holds = _condition(criterion.op, actual, criterion.value, enrolment_date)  # type: ignore[arg-type]
        except TypeError:
            holds = None
        if holds is None:
            results.append(
                CriterionResult(criterion.id, criterion.text, criterion.kind, None,
                                f"{criterion.text}: '{criterion.field}' = {actual!r} cannot be compared")
            )
            continue
        met = holds if criterion.kind is CriterionKind.INCLUSION else not holds
        if met:
            reason = f"{criterion.text}: met"
        elif criterion.kind is CriterionKind.INCLUSION:
            reason = f"{criterion.text}: not met ({criterion.field} = {show_value(actual)})"
        else:
            reason = f"{criterion.text}: exclusion applies ({criterion.field} = {show_value(actual)})"
        results.append(CriterionResult(criterion.id, criterion.text, criterion.kind, met, reason))
    return EligibilityResult(eligible=all(r.met for r in results), criteria=tuple(results))


def show_value(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
