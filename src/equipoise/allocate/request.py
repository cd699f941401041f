"""What an allocation is asked (the request) and what it answers (the allocation)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from equipoise.allocate.errors import AllocationError


@dataclass(frozen=True)
class ArmWeight:
    """An arm and its allocation weight (e.g. 2 for usual care in RECOVERY's 2:1:1:1)."""

    id: str
    weight: float

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise AllocationError(f"an arm id must be a non-empty text, not {self.id!r}")
        w = self.weight
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or not w > 0:
            raise AllocationError(f"arm {self.id!r}: the allocation weight must be a positive number, not {w!r}")
        object.__setattr__(self, "weight", float(w))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "weight": self.weight}

    def __str__(self) -> str:
        return f"{self.id} (weight {_number(self.weight)})"


def arm_signature(arms: Iterable[ArmWeight]) -> str:
    """A readable key for a set of arms and their weights, e.g. ``usual_care:2,dexamethasone:1``."""
    return ",".join(f"{a.id}:{_number(a.weight)}" for a in arms)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class AllocationRequest:
    """Everything an algorithm needs about one patient, frozen at randomization and stored with the allocation.

    ``arms`` are the arms open to this patient (site availability and contraindications applied) and
    ``all_arms`` every arm in force, both in protocol order. ``factors`` maps factor id to level (the site factor
    included when the protocol has one); ``stratum`` is the randomization-list key built from the
    ``stratify_by`` levels ("" when unstratified). ``adaptive_probabilities`` is the statisticians' table for
    response-adaptive randomization.
    """

    arms: tuple[ArmWeight, ...]
    all_arms: tuple[ArmWeight, ...]
    factors: Mapping[str, str] = field(default_factory=dict)
    stratum: str = ""
    adaptive_probabilities: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        arms = tuple(self.arms)
        all_arms = tuple(self.all_arms)
        object.__setattr__(self, "arms", arms)
        object.__setattr__(self, "all_arms", all_arms)
        if not all(isinstance(a, ArmWeight) for a in (*arms, *all_arms)):
            raise AllocationError("arms and all_arms must be ArmWeight values")
        for name, group in (("arms", arms), ("all_arms", all_arms)):
            ids = [a.id for a in group]
            if len(set(ids)) != len(ids):
                raise AllocationError(f"{name} lists an arm more than once: {', '.join(ids)}")
        in_force = {a.id: a.weight for a in all_arms}
        for arm in arms:
            if arm.id not in in_force:
                raise AllocationError(f"arm {arm.id!r} is open to the patient but not in force")
            if in_force[arm.id] != arm.weight:
                raise AllocationError(
                    f"arm {arm.id!r} has weight {_number(arm.weight)} for the patient but "
                    f"{_number(in_force[arm.id])} in force"
                )
        factors = dict(self.factors)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in factors.items()):
            raise AllocationError("factors must map factor ids to level names (text)")
        object.__setattr__(self, "factors", factors)
        if not isinstance(self.stratum, str):
            raise AllocationError(f"the stratum must be text, not {self.stratum!r}")
        if self.adaptive_probabilities is not None:
            table = dict(self.adaptive_probabilities)
            for arm_id, p in table.items():
                ok = isinstance(p, int | float) and not isinstance(p, bool) and math.isfinite(p) and p >= 0
                if not isinstance(arm_id, str) or not ok:
                    raise AllocationError(f"adaptive probability of {arm_id!r} must be a number >= 0, not {p!r}")
            object.__setattr__(self, "adaptive_probabilities", {k: float(v) for k, v in table.items()})

    @property
    def arm_ids(self) -> list[str]:
        return [a.id for a in self.arms]

    def to_dict(self) -> dict[str, Any]:
        return {
            "arms": [a.to_dict() for a in self.arms],
            "all_arms": [a.to_dict() for a in self.all_arms],
            "factors": dict(self.factors),
            "stratum": self.stratum,
            "adaptive_probabilities": (
                None if self.adaptive_probabilities is None else dict(self.adaptive_probabilities)
            ),
        }

    def __str__(self) -> str:
        lines = [f"Allocation request: open arms {arm_signature(self.arms)} (in force: {arm_signature(self.all_arms)})"]
        if self.factors:
            lines.append("  factors: " + ", ".join(f"{k}={v}" for k, v in self.factors.items()))
        if self.stratum:
            lines.append(f"  stratum: {self.stratum}")
        if self.adaptive_probabilities:
            lines.append("  adaptive probabilities: "
                         + ", ".join(f"{k} {v:.4f}" for k, v in self.adaptive_probabilities.items()))
        return "\n".join(lines)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AllocationRequest:
        """The request stored by ``to_dict``; a malformed dict raises ``AllocationError``."""
        if not isinstance(data, Mapping):
            raise AllocationError(f"an allocation request must be a JSON object, not {type(data).__name__}")
        unknown = set(data) - {"arms", "all_arms", "factors", "stratum", "adaptive_probabilities"}
        if unknown:
            raise AllocationError(f"unknown key(s) in allocation request: {', '.join(sorted(unknown))}")
        try:
            return cls(
                arms=tuple(_arm_from(a) for a in data["arms"]),
                all_arms=tuple(_arm_from(a) for a in data["all_arms"]),
                factors=dict(data.get("factors") or {}),
                stratum=data.get("stratum", ""),
                adaptive_probabilities=data.get("adaptive_probabilities"),
            )
        except KeyError as missing:
            raise AllocationError(f"allocation request lacks {missing}") from None
        except (TypeError, ValueError) as error:
            raise AllocationError(f"malformed allocation request: {error}") from None


def _arm_from(item: Any) -> ArmWeight:
    if not isinstance(item, Mapping) or set(item) != {"id", "weight"}:
        raise AllocationError(f"an arm must be an object with id and weight, not {item!r}")
    return ArmWeight(id=item["id"], weight=item["weight"])


@dataclass(frozen=True)
class Allocation:
    """The arm allocated, the new state of the state row, and secret diagnostics (JSON, never shown blinded)."""

    arm: str
    state: dict[str, Any]
    diagnostics: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"arm": self.arm, "state": self.state, "diagnostics": self.diagnostics}

    def __str__(self) -> str:
        probabilities = self.diagnostics.get("probabilities", {})
        shown = ", ".join(f"{arm} {p:.3f}" for arm, p in probabilities.items())
        return f"allocated {self.arm}" + (f" (probabilities: {shown})" if shown else "")
