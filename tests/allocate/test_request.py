import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipoise.allocate import AllocationError, AllocationRequest, ArmWeight

ids = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


@st.composite
def requests(draw):
    arm_ids = draw(st.lists(ids, min_size=2, max_size=6, unique=True))
    weights = draw(st.lists(st.sampled_from([1, 2, 3, 0.5, 1.5]), min_size=len(arm_ids), max_size=len(arm_ids)))
    all_arms = tuple(ArmWeight(a, w) for a, w in zip(arm_ids, weights, strict=True))
    chosen = draw(st.lists(st.sampled_from(all_arms), min_size=1, unique=True))
    factors = draw(st.dictionaries(ids, st.text(min_size=1, max_size=8), max_size=4))
    table = draw(st.none() | st.dictionaries(st.sampled_from(arm_ids), st.floats(0, 1)))
    return AllocationRequest(tuple(chosen), all_arms, factors, draw(st.text(max_size=20)), table)


@given(requests())
def test_a_request_survives_a_json_round_trip(request):
    stored = json.loads(json.dumps(request.to_dict()))
    assert AllocationRequest.from_dict(stored) == request
    assert AllocationRequest.from_dict(stored).to_dict() == request.to_dict()


ARMS = {"arms": [{"id": "a", "weight": 1}], "all_arms": [{"id": "a", "weight": 1}, {"id": "b", "weight": 1}]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"arms": [{"id": "c", "weight": 1}]}, "not in force"),
        ({"arms": [{"id": "a", "weight": 2}]}, "weight 2 for the patient but 1 in force"),
        ({"arms": [{"id": "a", "weight": 0}]}, "positive number"),
        ({"arms": [{"id": "a"}]}, "with id and weight"),
        ({"all_arms": [{"id": "a", "weight": 1}, {"id": "a", "weight": 1}]}, "more than once"),
        ({"factors": {"severity": 3}}, "level names"),
        ({"adaptive_probabilities": {"a": -0.1}}, ">= 0"),
        ({"extra": 1}, "unknown key"),
        ({"factors": ["abc"]}, "malformed allocation request"),
        ({"arms": "a"}, "with id and weight"),
    ],
)
def test_a_malformed_request_is_refused_with_a_reason(change, message):
    with pytest.raises(AllocationError, match=message):
        AllocationRequest.from_dict({**ARMS, **change})


def test_a_request_without_arms_is_refused():
    with pytest.raises(AllocationError, match="lacks 'all_arms'"):
        AllocationRequest.from_dict({"arms": []})
