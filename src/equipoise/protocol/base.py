"""Shared building blocks of the protocol model."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

# No number in a protocol is meaningfully larger: what is (a sample size, a lab range in SI units) stays far
# below, and what is not (1e300 as an allocation weight) overflows the design, the lists or the date arithmetic.
MAX_NUMBER = 1e12
# Days from randomization: a visit or outcome a hundred years after it is a typo; ten years before is screening.
MAX_DAY = 36_500
MIN_DAY = -3_650
# Allocation weights are ratios such as 2 (for 2:1) or 0.5; a block holds their sum, so it must stay small.
MAX_ALLOCATION_WEIGHT = 1_000

Day = Annotated[int, Field(ge=MIN_DAY, le=MAX_DAY)]
"""A day offset from randomization (day 0)."""

Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$", max_length=64),
]
"""A short machine name: a letter, then letters, digits, ``_`` or ``-``."""


class ProtocolModel(BaseModel):
    """Base of every protocol section: unknown keys are errors and parsed values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _numbers_in_range(cls, value: Any) -> Any:
        """Every number of every section: finite (``allow_inf_nan``) and at most ``MAX_NUMBER`` in size."""
        for number in _numbers(value):
            if abs(number) > MAX_NUMBER:
                raise ValueError(f"{number:g} is out of range (a number in a protocol is at most {MAX_NUMBER:g} in "
                                 "size)")
        return value


def _numbers(value: Any) -> list[int | float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, list | tuple):
        return [n for item in value for n in _numbers(item)]
    if isinstance(value, dict):
        return [n for item in value.values() for n in _numbers(item)]
    return []  # nested sections check their own fields


def format_number(number: float) -> str:
    """65.0 -> '65', 0.5 -> '0.5': numbers as a person would write them in a message."""
    return str(int(number)) if float(number).is_integer() else str(number)
