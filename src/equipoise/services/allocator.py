"""The one place the server calls ``equipoise.allocate``: build the request, pick the scheme, allocate.

Keeping these calls together lets the services stay free of algorithm details, and lets replay build exactly
the same objects as randomization did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from equipoise.allocate import (
    Allocation,
    AllocationError,
    AllocationRequest,
    ListEntries,
    RecordingSource,
    ReplayExhausted,
    ReplaySource,
    Scheme,
    build_request,
    scheme_from_protocol,
)
from equipoise.protocol import Protocol

__all__ = [
    "AllocationError",
    "AllocationRequest",
    "ListEntries",
    "Prepared",
    "ReplayExhausted",
    "allocate_recorded",
    "prepare",
    "replay_one",
]


@dataclass(frozen=True)
class Prepared:
    scheme: Scheme
    request: AllocationRequest
    state_key: str


def prepare(protocol: Protocol, site_id: str, values: Mapping[str, Any],
            adaptive_probabilities: Mapping[str, float] | None = None,
            randomization_list: ListEntries | None = None) -> Prepared:
    """Scheme and request for one patient under the protocol in force (RND-5: arms open to this patient)."""
    request = build_request(protocol, site_id, dict(values), adaptive_probabilities)
    scheme = scheme_from_protocol(protocol, randomization_list)
    return Prepared(scheme, request, scheme.state_key(request))


def allocate_recorded(prepared: Prepared, state: Mapping[str, Any]) -> tuple[Allocation, list[float]]:
    """Allocate with the operating system's CSPRNG (RND-11), recording every draw."""
    source = RecordingSource()
    allocation = prepared.scheme.allocate(state, prepared.request, source)
    return allocation, list(source.draws)


def replay_one(protocol: Protocol, request_data: Mapping[str, Any], state: Mapping[str, Any],
               draws: list[float], randomization_list: ListEntries | None = None) -> Allocation:
    """Recompute one stored allocation from its inputs and draws (RND-7), or its list entry (RND-8)."""
    request = AllocationRequest.from_dict(request_data)
    return scheme_from_protocol(protocol, randomization_list).allocate(state, request, ReplaySource(draws))


def scheme_for(protocol: Protocol, randomization_list: ListEntries | None = None) -> Scheme:
    return scheme_from_protocol(protocol, randomization_list)
