"""Stratified permuted-block randomization with block sizes drawn at random.

References
----------
Rosenberger WF, Lachin JM (2016). Randomization in Clinical Trials: Theory and Practice, 2nd ed.
Wiley, ch. 3.
Matts JP, Lachin JM (1988). Properties of permuted-block randomization in clinical trials. Control Clin Trials
9:327-344.
Efird J (2011). Blocked randomization with randomly selected block sizes. Int J Environ Res Public Health
8:15-20.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from equipoise.allocate.draws import index_below, shuffled
from equipoise.allocate.errors import AllocationError
from equipoise.allocate.request import Allocation, AllocationRequest, ArmWeight, arm_signature
from equipoise.allocate.scheme import Scheme
from equipoise.allocate.sources import RandomSource


def permuted_block(source: RandomSource, arms: Sequence[ArmWeight], replicates: int) -> list[str]:
    """One block: every arm ``weight x replicates`` times, in a uniformly random order (Fisher-Yates). Shared by
    the scheme, generated lists and emergency envelopes, so all three draw blocks the same way."""
    return shuffled(source, [a.id for a in arms for _ in range(int(a.weight) * replicates)])


class PermutedBlocksScheme(Scheme):
    """Permuted blocks within strata, each block's size drawn at random (Rosenberger & Lachin 2016, ch. 3).

    A block holds every open arm ``weight × r`` times, where the number of replicates ``r`` is drawn uniformly
    from ``block_size / sum(weights in force)`` over the protocol's ``block_sizes``; the block is then put in a
    uniformly random order (Fisher-Yates). Random block sizes, kept secret, make the last allocations of a block
    harder to guess in open-label trials (Cochrane Handbook 5.1, §8.15.1.3; Efird 2011, *Int J Environ Res
    Public Health* 8:15-20). Every complete block is exactly balanced in the allocation ratio.

    **Blocks never mix arm sets.** A block belongs to one stratum *and* one set of open arms with their
    weights: ``state_key`` is ``"<stratum>|<arm:weight,...>"``. Patients at a site that does not offer an arm,
    patients with a contraindication, and patients after an amendment that adds, drops or re-weights an arm
    each draw from the block sequence of their own arm set (with ``r`` replicates of *their* weights, so a
    block of a two-arm subset at 2:1:1:1 with sizes [5, 10] holds 3 or 6 patients). The block in progress of
    an arm set that is no longer offered stays incomplete; nothing is moved between sets. Balance is exact
    within each complete block and never off by more than one block per (stratum, arm set).
    """

    method = "permuted-blocks"

    def __init__(self, arms: Sequence[ArmWeight], block_sizes: Sequence[int]) -> None:
        super().__init__(arms)
        if not block_sizes:
            raise AllocationError("permuted blocks need block_sizes, e.g. [4, 6]")
        if any(not float(a.weight).is_integer() for a in self.arms):
            raise AllocationError(f"permuted blocks need whole-number allocation weights ({arm_signature(self.arms)})")
        total = int(sum(a.weight for a in self.arms))
        self.block_sizes = [int(s) for s in block_sizes]
        if any(s <= 0 or s % total for s in self.block_sizes):
            raise AllocationError(
                f"block sizes {self.block_sizes} must be positive multiples of the allocation weights' sum ({total})"
            )
        self.replicates = [s // total for s in self.block_sizes]

    def _settings(self) -> dict[str, Any]:
        return {"block_sizes": list(self.block_sizes), "replicates": list(self.replicates)}

    @classmethod
    def _from_parameters(cls, arms: tuple[ArmWeight, ...], settings: Mapping[str, Any]) -> PermutedBlocksScheme:
        return cls(arms, settings["block_sizes"])

    def state_key(self, request: AllocationRequest) -> str:
        return f"{request.stratum}|{arm_signature(self.open_arms(request))}"

    def initial_state(self) -> dict[str, Any]:
        return {"blocks": 0, "block": [], "position": 0, "allocated": 0}

    def _allocate(self, state: dict[str, Any], request: AllocationRequest, source: RandomSource) -> Allocation:
        arms = self.open_arms(request)
        ids = [a.id for a in arms]
        block: list[str] = list(state.get("block", []))
        position = int(state.get("position", 0))
        blocks = int(state.get("blocks", 0))
        if any(arm not in ids for arm in block):
            # The state key contains the arm set, so this only happens to a damaged or misfiled state row.
            raise AllocationError(
                f"state row {self.state_key(request)!r} holds a block with arms outside {', '.join(ids)}"
            )
        new_block = position >= len(block)
        if new_block:
            choice = index_below(source, len(self.replicates)) if len(self.replicates) > 1 else 0
            replicates = self.replicates[choice]
            block = permuted_block(source, arms, replicates)
            position = 0
            blocks += 1
        remaining = Counter(block[position:])
        probabilities = {arm: remaining[arm] / (len(block) - position) for arm in ids}
        arm = block[position]
        position += 1
        new_state = {
            "blocks": blocks,
            "block": block,
            "position": position,
            "allocated": int(state.get("allocated", 0)) + 1,
        }
        diagnostics = {
            "method": self.method,
            "stratum": request.stratum,
            "arms": arm_signature(arms),
            "block": blocks,
            "block_size": len(block),
            "position": position,
            "new_block": new_block,
            "probabilities": probabilities,
        }
        return Allocation(arm=arm, state=new_state, diagnostics=diagnostics)
