"""Turning uniform draws into choices: one draw per weighted choice, n-1 draws per shuffle.

Written here rather than taken from ``random`` because the mapping from draws to choices must be fixed and
documented for replay: ``random.choices``/``shuffle`` may change how they consume randomness between Python
versions, which would break the replay of a stored allocation.

References
----------
Knuth DE (1997). The Art of Computer Programming, vol. 2, 3rd ed., section 3.4.2, Algorithm P (shuffling).
Durstenfeld R (1964). Algorithm 235: random permutation. Commun ACM 7:420.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from equipoise.allocate.sources import RandomSource

T = TypeVar("T")


def choose(source: RandomSource, options: Sequence[T], probabilities: Sequence[float]) -> T:
    """One option, drawn with the given (non-negative, not necessarily normalised) probabilities.

    Inverse-CDF with a single uniform u: the first option whose cumulative weight exceeds u * total. An option
    with weight 0 is never returned.
    """
    if len(options) != len(probabilities) or not options:
        raise ValueError("choose needs one probability per option and at least one option")
    total = float(sum(probabilities))
    if not total > 0 or any(p < 0 for p in probabilities):
        raise ValueError(f"probabilities must be >= 0 with a positive sum, got {list(probabilities)}")
    target = source.uniform() * total
    cumulative = 0.0
    for option, p in zip(options, probabilities, strict=True):
        cumulative += p
        if target < cumulative:
            return option
    # Rounding can leave target == total: fall back to the last option that can be chosen.
    return next(o for o, p in zip(reversed(options), reversed(probabilities), strict=True) if p > 0)


def index_below(source: RandomSource, n: int) -> int:
    """A uniform integer in [0, n) from one draw."""
    return min(int(source.uniform() * n), n - 1)


def shuffled(source: RandomSource, items: Sequence[T]) -> list[T]:
    """A uniformly random permutation: Fisher-Yates (Knuth, TAOCP vol. 2, Algorithm 3.4.2 P), n-1 draws."""
    result = list(items)
    for i in range(len(result) - 1, 0, -1):
        j = index_below(source, i + 1)
        result[i], result[j] = result[j], result[i]
    return result
