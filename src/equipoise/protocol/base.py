"""Shared building blocks of the protocol model."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$", max_length=64),
]
"""A short machine name: a letter, then letters, digits, ``_`` or ``-``."""


class ProtocolModel(BaseModel):
    """Base of every protocol section: unknown keys are errors and parsed values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def format_number(number: float) -> str:
    """65.0 -> '65', 0.5 -> '0.5': numbers as a person would write them in a message."""
    return str(int(number)) if float(number).is_integer() else str(number)
