"""Properties that hold for any valid request and any history, checked with hypothesis."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from equipoise.allocate import (
    AllocationRequest,
    ArmWeight,
    MinimizationScheme,
    PermutedBlocksScheme,
    RecordingSource,
    ReplayRecord,
    ResponseAdaptiveScheme,
    SeededSource,
    SimpleScheme,
    replay,
)

ARMS = (ArmWeight("uc", 2), ArmWeight("a", 1), ArmWeight("b", 1), ArmWeight("c", 1))
SCHEMES = [
    SimpleScheme(ARMS),
    PermutedBlocksScheme(ARMS, [5, 10]),
    MinimizationScheme(ARMS, {"sex": 1, "site": 2}, 0.75, "range", ratio_preserving=True),
    MinimizationScheme(ARMS, {"sex": 1, "site": 2}, 0.9, "variance", ratio_preserving=False),
    ResponseAdaptiveScheme(ARMS, burn_in=3, floor=0.05, control_arm="uc", control_share=0.3),
]


@st.composite
def patient(draw):
    open_arms = draw(st.lists(st.sampled_from(ARMS), min_size=2, max_size=4, unique=True))
    factors = {"sex": draw(st.sampled_from(["f", "m"])), "site": draw(st.sampled_from(["s1", "s2", "s3"]))}
    table = draw(st.none() | st.fixed_dictionaries({a.id: st.floats(0, 1) for a in ARMS}))
    return AllocationRequest(tuple(open_arms), ARMS, factors, draw(st.sampled_from(["", "z=1", "z=2"])), table)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(SCHEMES), st.lists(patient(), min_size=1, max_size=25), st.integers(0, 2**32))
def test_any_history_gives_open_arms_json_states_untouched_inputs_and_an_exact_replay(scheme, patients, seed):
    states: dict[str, dict[str, object]] = {}
    records = []
    source = SeededSource(seed)
    for request in patients:
        key = scheme.state_key(request)
        state = states.get(key, scheme.initial_state())
        before = json.dumps(state, sort_keys=True)
        recording = RecordingSource(source)
        allocation = scheme.allocate(state, request, recording)
        assert allocation.arm in request.arm_ids
        assert json.dumps(state, sort_keys=True) == before  # the caller's state is never changed
        assert json.loads(json.dumps(allocation.state)) == allocation.state
        assert json.loads(json.dumps(allocation.diagnostics)) == allocation.diagnostics
        probabilities = allocation.diagnostics["probabilities"]
        assert set(probabilities) == set(request.arm_ids)
        assert abs(sum(probabilities.values()) - 1) < 1e-9
        assert probabilities[allocation.arm] > 0
        states[key] = allocation.state
        records.append(ReplayRecord(key, request.to_dict(), recording.draws, allocation.arm, allocation.diagnostics))
    report = replay(scheme, records)
    assert report.ok, str(report)
    assert report.final_states == states
