import random
from collections import Counter, defaultdict

import pytest

from equipoise.allocate import (
    AllocationError,
    AllocationRequest,
    ArmWeight,
    PermutedBlocksScheme,
    ReplaySource,
    SeededSource,
    arm_signature,
)
from tests.allocate.conftest import PLATFORM_DATES, Runner, platform_patient


def blocks_of(runner: Runner) -> tuple[dict[tuple[str, int], list[str]], dict[tuple[str, int], int]]:
    """(state key, block number) -> the arms allocated from that block, and its size."""
    arms: dict[tuple[str, int], list[str]] = defaultdict(list)
    sizes: dict[tuple[str, int], int] = {}
    for record in runner.records:
        assert record.diagnostics is not None
        block = (record.state_key, record.diagnostics["block"])
        arms[block].append(record.arm)
        sizes[block] = record.diagnostics["block_size"]
    return arms, sizes


def test_every_complete_block_is_exactly_balanced_across_strata_sites_contraindications_and_amendments(
    platform_blocks,
):
    rng = random.Random(11)
    runner = Runner(seed=12)
    for date in PLATFORM_DATES:
        p = platform_blocks.in_force(date)
        for _ in range(1500):
            site, values = platform_patient(rng, p)
            allocation = runner.allocate_patient(p, site, values)
            assert allocation.arm in runner.requests[-1].arm_ids
    arms, sizes = blocks_of(runner)
    complete = [b for b in arms if len(arms[b]) == sizes[b]]
    assert len(complete) > 20
    for block in complete:
        key, _number = block
        weights = {a.split(":")[0]: int(a.split(":")[1]) for a in key.split("|")[1].split(",")}
        replicates = sizes[block] // sum(weights.values())
        assert Counter(arms[block]) == {arm: w * replicates for arm, w in weights.items()}, block
    # at most one block in progress per state row
    in_progress = Counter(key for key, _ in arms if (key, _) not in complete)
    assert max(in_progress.values()) == 1
    # both sizes are drawn: 30 and 60 are 6 and 12 replicates of 2:1:1:1 (v1.0, v3.0), 5 and 10 of 2:1:1:1:1
    drawn = {sizes[b] // sum(int(a.split(":")[1]) for a in b[0].split("|")[1].split(",")) for b in complete}
    assert drawn == {5, 6, 10, 12}


def test_blocks_never_mix_arm_sets_the_state_key_carries_stratum_and_arms():
    a, b, c = ArmWeight("a", 2), ArmWeight("b", 1), ArmWeight("c", 1)
    scheme = PermutedBlocksScheme([a, b, c], [4, 8])
    full = AllocationRequest((a, b, c), (a, b, c), stratum="s=1")
    fewer = AllocationRequest((a, c), (a, b, c), stratum="s=1")
    assert scheme.state_key(full) == "s=1|a:2,b:1,c:1"
    assert scheme.state_key(fewer) == "s=1|" + arm_signature([a, c]) == "s=1|a:2,c:1"
    allocation = scheme.allocate(scheme.initial_state(), fewer, SeededSource(4))
    assert allocation.diagnostics["block_size"] in (3, 6)  # 1 or 2 replicates of 2:1
    assert set(allocation.state["block"]) == {"a", "c"}


def test_a_block_is_consumed_in_order_and_the_next_one_is_drawn_when_it_ends():
    a, b = ArmWeight("a", 1), ArmWeight("b", 1)
    scheme = PermutedBlocksScheme([a, b], [2, 4])
    request = AllocationRequest((a, b), (a, b))
    # first draw picks the size (0.1 -> 2 slots), one more shuffles them
    first = scheme.allocate(scheme.initial_state(), request, ReplaySource([0.1, 0.9]))
    assert first.state["block"] == ["a", "b"]
    assert first.diagnostics["probabilities"] == {"a": 0.5, "b": 0.5}
    second = scheme.allocate(first.state, request, ReplaySource([]))  # no draw needed inside a block
    assert (first.arm, second.arm) == ("a", "b")
    assert second.diagnostics["probabilities"] == {"a": 0.0, "b": 1.0}
    third = scheme.allocate(second.state, request, ReplaySource([0.9, 0.5, 0.5, 0.5]))
    assert third.diagnostics["block"] == 2
    assert third.diagnostics["block_size"] == 4
    assert third.diagnostics["new_block"]
    assert first.state["position"] == 1  # the input state was not changed by the later calls


def test_block_sizes_must_be_multiples_of_the_weights_sum():
    with pytest.raises(AllocationError, match="multiples of the allocation weights' sum \\(5\\)"):
        PermutedBlocksScheme([ArmWeight("a", 2), ArmWeight("b", 3)], [4])
    with pytest.raises(AllocationError, match="whole-number"):
        PermutedBlocksScheme([ArmWeight("a", 1.5), ArmWeight("b", 1)], [5])


def test_a_damaged_state_row_never_allocates_an_arm_outside_the_open_ones():
    a, b, c = ArmWeight("a", 1), ArmWeight("b", 1), ArmWeight("c", 1)
    scheme = PermutedBlocksScheme([a, b, c], [3])
    request = AllocationRequest((a, b), (a, b, c))
    with pytest.raises(AllocationError, match="outside a, b"):
        scheme.allocate({"blocks": 1, "block": ["c", "a"], "position": 0, "allocated": 0}, request, SeededSource(1))


@pytest.mark.parametrize("state", [{"block": 5}, {"block": ["a"], "position": "x"}])
def test_a_state_row_of_the_wrong_shape_gives_a_clear_error(state):
    a, b = ArmWeight("a", 1), ArmWeight("b", 1)
    scheme = PermutedBlocksScheme([a, b], [2])
    with pytest.raises(AllocationError, match=r"state row '\|a:1,b:1' cannot be used"):
        scheme.allocate(state, AllocationRequest((a, b), (a, b)), SeededSource(1))
