"""Who knows the arm: the trial's (and each further randomization's) blinding."""

from __future__ import annotations

from enum import StrEnum


class Blinding(StrEnum):
    OPEN_LABEL = "open-label"
    SINGLE_BLIND = "single-blind"
    DOUBLE_BLIND = "double-blind"

    @property
    def is_blinded(self) -> bool:
        return self is not Blinding.OPEN_LABEL
