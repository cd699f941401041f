"""Emergency envelopes: allocations drawn in advance for a site that cannot reach the server (RND-12).

Sealed Envelope's downtime procedure: the coordinating centre holds a pre-drawn emergency list; a site that
cannot randomize online opens the next envelope, treats the patient, and enters the allocation once the
system is back. The envelopes of a site are drawn in permuted blocks of the arms offered there (one or two
replicates of the weights per block, at random), so a site that opens many stays near the allocation ratio;
they are sealed, so the block size does not make them guessable.

References
----------
Rosenberger WF, Lachin JM (2016). Randomization in Clinical Trials: Theory and Practice, 2nd ed.
Wiley, ch. 3 (permuted blocks).
Sealed Envelope, "Emergency randomisation" (the downtime procedure of its online randomisation service).
"""

from __future__ import annotations

from collections.abc import Sequence

from equipoise.allocate.draws import choose, index_below
from equipoise.allocate.errors import AllocationError
from equipoise.allocate.permuted_blocks import permuted_block
from equipoise.allocate.request import ArmWeight
from equipoise.allocate.sources import RandomSource


def draw_envelopes(arms: Sequence[ArmWeight], count: int, source: RandomSource) -> list[str]:
    """``count`` arms in envelope order; with weights that are not whole numbers, each drawn on its own."""
    if len(arms) < 2:
        raise AllocationError(f"emergency envelopes need at least two arms offered, not {len(arms)}")
    if count < 1:
        raise AllocationError("draw at least one envelope")
    if any(not float(a.weight).is_integer() for a in arms):
        return [choose(source, [a.id for a in arms], [a.weight for a in arms]) for _ in range(count)]
    drawn: list[str] = []
    while len(drawn) < count:
        replicates = 1 + index_below(source, 2)
        drawn += permuted_block(source, arms, replicates)
    return drawn[:count]
