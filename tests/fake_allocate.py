"""A stand-in for ``equipoise.allocate`` used only while that layer is not merged (same interface).

It allocates by weighted simple randomization from one draw, per stratum; good enough to exercise the
server's plumbing. The real layer replaces it automatically once ``equipoise.allocate`` is importable.
"""

from __future__ import annotations

import secrets
import sys
import types
from dataclasses import dataclass, field
from typing import Any


class AllocationError(ValueError):
    pass


class ReplayExhausted(Exception):  # noqa: N818
    pass


class RecordingSource:
    def __init__(self, inner: Any = None) -> None:
        self.draws: list[float] = []

    def uniform(self) -> float:
        value = secrets.randbits(53) / (1 << 53)
        self.draws.append(value)
        return value


class ReplaySource:
    def __init__(self, draws: list[float]) -> None:
        self._draws = list(draws)

    def uniform(self) -> float:
        if not self._draws:
            raise ReplayExhausted("no more draws")
        return self._draws.pop(0)


@dataclass(frozen=True)
class ArmWeight:
    id: str
    weight: float

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "weight": float(self.weight)}


@dataclass(frozen=True)
class AllocationRequest:
    arms: tuple[ArmWeight, ...]
    all_arms: tuple[ArmWeight, ...]
    factors: dict[str, str] = field(default_factory=dict)
    stratum: str = ""
    adaptive_probabilities: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"arms": [a.to_dict() for a in self.arms], "all_arms": [a.to_dict() for a in self.all_arms],
                "factors": dict(self.factors), "stratum": self.stratum,
                "adaptive_probabilities": self.adaptive_probabilities}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AllocationRequest:
        return cls(tuple(ArmWeight(a["id"], a["weight"]) for a in data["arms"]),
                   tuple(ArmWeight(a["id"], a["weight"]) for a in data["all_arms"]),
                   dict(data["factors"]), data["stratum"], data["adaptive_probabilities"])


@dataclass(frozen=True)
class Allocation:
    arm: str
    state: dict[str, Any]
    diagnostics: dict[str, Any]


class Scheme:
    method = "fake-simple"

    def __init__(self, arms: tuple[ArmWeight, ...]) -> None:
        self.arms = arms

    def parameters(self) -> dict[str, Any]:
        return {"method": self.method, "arms": [a.to_dict() for a in self.arms]}

    def state_key(self, request: AllocationRequest) -> str:
        return request.stratum

    def initial_state(self) -> dict[str, Any]:
        return {"n": 0}

    def allocate(self, state: dict[str, Any], request: AllocationRequest, source: Any) -> Allocation:
        if len(request.arms) < 2:
            raise AllocationError("randomization needs at least two arms")
        u = source.uniform() * sum(a.weight for a in request.arms)
        for arm in request.arms:
            u -= arm.weight
            if u < 0:
                break
        return Allocation(arm.id, {"n": state["n"] + 1}, {"u": u})


def scheme_from_protocol(protocol: Any) -> Scheme:
    return Scheme(tuple(ArmWeight(a.id, float(a.allocation)) for a in protocol.arms))


def arms_for_patient(protocol: Any, site_id: str, values: dict[str, Any]) -> list[Any]:
    return [a for a in protocol.arms_at_site(site_id) if not any(values.get(f) is True for f in a.excluded_if)]


def patient_factors(protocol: Any, values: dict[str, Any], site_id: str) -> dict[str, str]:
    if protocol.randomization is None:
        return {}
    return {f.id: site_id if f.field == "site" else f.level_of(values.get(f.field))
            for f in protocol.randomization.factors}


def stratum_key(protocol: Any, factors: dict[str, str]) -> str:
    if protocol.randomization is None:
        return ""
    return "|".join(f"{k}={factors[k]}" for k in protocol.randomization.stratify_by)


def install() -> None:
    """Register this module as ``equipoise.allocate`` when the real layer is absent."""
    try:
        import equipoise.allocate  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        module = sys.modules[__name__]
        errors = types.ModuleType("equipoise.allocate.errors")
        errors.AllocationError = AllocationError  # type: ignore[attr-defined]
        sys.modules["equipoise.allocate"] = module
        sys.modules["equipoise.allocate.errors"] = errors
