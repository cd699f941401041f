"""Where allocations get their randomness, and how it is recorded and replayed.

Every algorithm in this package is a deterministic function of (state, request, draws): it asks a
``RandomSource`` for uniform numbers in [0, 1) and nothing else. The server allocates with a
``RecordingSource`` around the operating system's cryptographic generator and stores ``.draws`` with the
allocation; ``equipoise allocation replay`` feeds the stored draws back through a ``ReplaySource`` and must get
the same arm, state and diagnostics.
"""

from __future__ import annotations

import math
import random
import secrets
from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class RandomSource(Protocol):
    def uniform(self) -> float:
        """A number in [0, 1)."""
        ...


class ReplayExhausted(Exception):  # noqa: N818 - the interface name the server codes against
    """A replayed allocation asked for more draws than were recorded."""


def _checked(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"a random draw must be a number in [0, 1), not {value!r}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"a random draw must lie in [0, 1), not {value!r}")
    return float(value)


class SystemSource:
    """Unpredictable draws from the operating system (``secrets.SystemRandom``): the production source.

    A 53-bit float from os.urandom: nobody, including whoever can read the code and the database, can predict
    the next allocation (allocation concealment needs unpredictability, not only a uniform distribution).
    """

    def __init__(self) -> None:
        self._generator = secrets.SystemRandom()

    def uniform(self) -> float:
        return self._generator.random()


class SeededSource:
    """Reproducible pseudo-random draws (Mersenne Twister) for tests and simulations; never for a live trial."""

    def __init__(self, seed: int) -> None:
        self._generator = random.Random(seed)

    def uniform(self) -> float:
        return self._generator.random()


class RecordingSource:
    """Passes on the draws of ``inner`` (default: the cryptographic ``SystemSource``) and keeps them, in order."""

    def __init__(self, inner: RandomSource | None = None) -> None:
        self._inner: RandomSource = inner if inner is not None else SystemSource()
        self._draws: list[float] = []

    def uniform(self) -> float:
        value = _checked(self._inner.uniform())
        self._draws.append(value)
        return value

    @property
    def draws(self) -> list[float]:
        """The draws consumed so far, in order (a copy: JSON-ready floats)."""
        return list(self._draws)


class ReplaySource:
    """Returns recorded draws in order; asking for one more raises ``ReplayExhausted``."""

    def __init__(self, draws: Sequence[float]) -> None:
        self._draws = [_checked(d) for d in draws]
        self._next = 0

    def uniform(self) -> float:
        if self._next >= len(self._draws):
            raise ReplayExhausted(f"the allocation needs more than the {len(self._draws)} recorded draw(s)")
        value = self._draws[self._next]
        self._next += 1
        return value

    @property
    def consumed(self) -> int:
        return self._next

    @property
    def remaining(self) -> int:
        """Recorded draws not used (a faithful replay uses all of them)."""
        return len(self._draws) - self._next
