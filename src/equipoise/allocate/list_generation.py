"""Generating a randomization list to upload (RND-8, RND-11): stratified permuted blocks from a seeded source.

The trial statistician generates the list offline, keeps the seed, and uploads the file (``POST
/randomization-lists``); whoever holds the seed and the protocol can generate the same list again, which is
how the list is verified later. Within each stratum, blocks hold every arm ``weight x r`` times, the number of
replicates r drawn from ``block_sizes`` over the weights' sum, in a uniformly random order (Fisher-Yates), as
Rosenberger & Lachin (2016, ch. 3) describe and R's ``blockrand`` does; whole blocks only, so each stratum
ends balanced. Strata are generated one after the other, in the protocol's order, from one seeded stream.

References
----------
Rosenberger WF, Lachin JM (2016). Randomization in Clinical Trials: Theory and Practice, 2nd ed.
Wiley, ch. 3 (permuted blocks, random block sizes).
Snow G. blockrand: randomization for block random clinical trials, R package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from equipoise.allocate.draws import index_below
from equipoise.allocate.errors import AllocationError
from equipoise.allocate.from_protocol import all_strata, arm_weights
from equipoise.allocate.permuted_blocks import permuted_block
from equipoise.allocate.request import arm_signature
from equipoise.allocate.sources import SeededSource
from equipoise.protocol.model import Protocol


@dataclass(frozen=True)
class ListEntry:
    stratum: str  # the stratum key, e.g. "site=s1;group=mild"
    levels: dict[str, str]  # factor id -> level, the columns of the file
    arm: str
    block: int  # from 1 within the stratum
    block_size: int


def generate_list(protocol: Protocol, per_stratum: int, seed: int,
                  block_sizes: Sequence[int] | None = None) -> list[ListEntry]:
    """At least ``per_stratum`` entries for every stratum (whole blocks), reproducible from ``seed``."""
    if per_stratum < 1:
        raise AllocationError("generate at least one entry per stratum")
    arms = arm_weights(protocol)
    if any(not float(a.weight).is_integer() for a in arms):
        raise AllocationError(f"permuted blocks need whole-number allocation weights ({arm_signature(arms)})")
    total = int(sum(a.weight for a in arms))
    sizes = list(block_sizes or (2 * total, 3 * total))
    if not sizes or any(s <= 0 or s % total for s in sizes):
        raise AllocationError(f"block sizes {sizes} must be positive multiples of the allocation weights' sum "
                              f"({total})")
    source = SeededSource(seed)
    entries: list[ListEntry] = []
    for stratum in all_strata(protocol):
        levels = dict(part.split("=", 1) for part in stratum.split(";")) if stratum else {}
        made, block = 0, 0
        while made < per_stratum:
            size = sizes[index_below(source, len(sizes))] if len(sizes) > 1 else sizes[0]
            block += 1
            replicates = size // total
            for arm in permuted_block(source, arms, replicates):
                entries.append(ListEntry(stratum, levels, arm, block, size))
            made += size
    return entries


def list_csv(protocol: Protocol, entries: Sequence[ListEntry]) -> str:
    """The file to upload: one column per stratification factor, then arm, block and block size."""
    factors = list(protocol.randomization.stratify_by) if protocol.randomization else []
    lines = [",".join([*factors, "arm", "block", "block_size"])]
    lines += [",".join([*(e.levels[f] for f in factors), e.arm, str(e.block), str(e.block_size)]) for e in entries]
    return "\n".join(lines) + "\n"
