"""The one place the server calls ``equipoise.allocate``: build the request, pick the scheme, allocate.

Keeping these calls together lets the services stay free of algorithm details, and lets replay build exactly
the same objects as randomization did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from equipoise.allocate import (  # type: ignore[import-not-found]
    Allocation,
    AllocationRequest,
    ArmWeight,
    RecordingSource,
    ReplayExhausted,
    ReplaySource,
    Scheme,
    arms_for_patient,
    patient_factors,
    scheme_from_protocol,
    stratum_key,
)
from equipoise.allocate.errors import AllocationError  # type: ignore[import-not-found]
from equipoise.protocol import Protocol

__all__ = [
    "AllocationError",
    "AllocationRequest",
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
            adaptive_probabilities: Mapping[str, float] | None = None) -> Prepared:
    """Scheme and request for one patient under the protocol in force (RND-5: arms open to this patient)."""
    open_arms = arms_for_patient(protocol, site_id, dict(values))
    factors = patient_factors(protocol, dict(values), site_id)
    request = AllocationRequest(
        arms=tuple(ArmWeight(a.id, a.allocation) for a in open_arms),
        all_arms=tuple(ArmWeight(a.id, a.allocation) for a in protocol.arms),
        factors=factors,
        stratum=stratum_key(protocol, factors),
        adaptive_probabilities=adaptive_probabilities,
    )
    scheme = scheme_from_protocol(protocol)
    return Prepared(scheme, request, scheme.state_key(request))


def allocate_recorded(prepared: Prepared, state: Mapping[str, Any]) -> tuple[Allocation, list[float]]:
    """Allocate with the operating system's CSPRNG (RND-11), recording every draw."""
    source = RecordingSource()
    allocation = prepared.scheme.allocate(state, prepared.request, source)
    return allocation, list(source.draws)


def replay_one(protocol: Protocol, request_data: Mapping[str, Any], state: Mapping[str, Any],
               draws: list[float]) -> Allocation:
    """Recompute one stored allocation from its inputs and draws (RND-7)."""
    request = AllocationRequest.from_dict(request_data)
    return scheme_from_protocol(protocol).allocate(state, request, ReplaySource(draws))


def scheme_for(protocol: Protocol) -> Scheme:
    return scheme_from_protocol(protocol)
