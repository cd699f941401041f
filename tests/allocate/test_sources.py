import math

import pytest

from equipoise.allocate import RecordingSource, ReplayExhausted, ReplaySource, SeededSource, SystemSource
from equipoise.allocate.draws import choose, index_below, shuffled


def test_recording_source_keeps_every_draw_in_order_and_defaults_to_the_system_generator():
    recording = RecordingSource()
    values = [recording.uniform() for _ in range(50)]
    assert recording.draws == values
    assert all(0.0 <= v < 1.0 for v in values)
    assert len(set(values)) == 50  # 53-bit draws from os.urandom do not repeat in 50 tries
    assert isinstance(recording._inner, SystemSource)


def test_replay_source_returns_the_recorded_draws_then_refuses():
    replay = ReplaySource([0.25, 0.5])
    assert (replay.uniform(), replay.uniform()) == (0.25, 0.5)
    assert replay.remaining == 0
    with pytest.raises(ReplayExhausted, match="more than the 2 recorded"):
        replay.uniform()


@pytest.mark.parametrize("bad", [1.0, -0.1, math.nan, "0.5", True])
def test_replay_source_refuses_a_draw_outside_the_unit_interval(bad):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        ReplaySource([bad])


def test_seeded_source_is_reproducible():
    a, b = SeededSource(7), SeededSource(7)
    assert [a.uniform() for _ in range(5)] == [b.uniform() for _ in range(5)]


def test_choose_maps_a_draw_to_the_inverse_cdf_and_never_picks_a_zero_weight():
    options = ["a", "b", "c"]
    assert choose(ReplaySource([0.0]), options, [0, 1, 1]) == "b"
    assert choose(ReplaySource([0.4999]), options, [0, 1, 1]) == "b"
    assert choose(ReplaySource([0.5]), options, [0, 1, 1]) == "c"
    assert choose(ReplaySource([0.9999999999]), options, [2, 1, 0]) == "b"
    with pytest.raises(ValueError, match="positive sum"):
        choose(ReplaySource([0.5]), options, [0, 0, 0])


def test_shuffle_uses_n_minus_one_draws_and_every_permutation_is_reachable():
    seen = set()
    source = SeededSource(3)
    for _ in range(600):
        recording = ReplaySource([source.uniform() for _ in range(3)])
        seen.add(tuple(shuffled(recording, "abcd")))
        assert recording.remaining == 0
    assert len(seen) == 24
    assert index_below(ReplaySource([0.999999]), 4) == 3
