"""The interface every allocation algorithm implements, and the checks they share."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from equipoise.allocate.errors import AllocationError
from equipoise.allocate.request import Allocation, AllocationRequest, ArmWeight, arm_signature
from equipoise.allocate.sources import RandomSource


class Scheme(ABC):
    """An allocation algorithm with its parameters, built from the protocol's randomization section and arms.

    The server locks the state row named by ``state_key(request)``, reads its state (``initial_state()`` for a
    new row), calls ``allocate(state, request, RecordingSource())`` and stores the arm, the draws, the new
    state and the diagnostics in one transaction. ``allocate`` is a deterministic function of (state,
    request, draws) and never changes the ``state`` it is given, so a replay with the stored draws gives the
    same allocation.
    """

    method: ClassVar[str]
    _registry: ClassVar[dict[str, type[Scheme]]] = {}

    def __init__(self, arms: Sequence[ArmWeight]) -> None:
        self.arms: tuple[ArmWeight, ...] = tuple(arms)
        if len(self.arms) < 2:
            raise AllocationError(f"randomization needs at least two arms in force, not {len(self.arms)}")
        ids = [a.id for a in self.arms]
        if len(set(ids)) != len(ids):
            raise AllocationError(f"arms listed more than once: {', '.join(ids)}")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "method" in cls.__dict__:
            Scheme._registry[cls.method] = cls

    # --- what the server calls -------------------------------------------------------------------------------

    def parameters(self) -> dict[str, Any]:
        """JSON of the algorithm and its parameters, stored with each allocation."""
        return {"method": self.method, "arms": [a.to_dict() for a in self.arms], **self._settings()}

    @abstractmethod
    def state_key(self, request: AllocationRequest) -> str:
        """Which state row this allocation reads and writes."""

    @abstractmethod
    def initial_state(self) -> dict[str, Any]:
        """The state of a row that has no allocation yet."""

    def allocate(self, state: Mapping[str, Any], request: AllocationRequest, source: RandomSource) -> Allocation:
        """The arm for this patient, the new state of the row and the (secret) diagnostics."""
        self.check(request)
        try:
            return self._allocate(copy.deepcopy(dict(state)), request, source)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # The request is validated and the draws are checked, so only a damaged state row gets here.
            raise AllocationError(f"state row {self.state_key(request)!r} cannot be used: {error!r}") from error

    # --- shared checks ---------------------------------------------------------------------------------------

    def check(self, request: AllocationRequest) -> None:
        """Refuse a request that was not built from the protocol this scheme came from, or has < 2 open arms."""
        mine = [(a.id, a.weight) for a in self.arms]
        theirs = [(a.id, a.weight) for a in request.all_arms]
        if mine != theirs:
            raise AllocationError(
                f"the request's arms in force ({arm_signature(request.all_arms)}) differ from the scheme's "
                f"({arm_signature(self.arms)}): was the scheme built from another protocol version?"
            )
        if len(request.arms) < 2:
            only = f" ({request.arms[0].id})" if request.arms else ""
            raise AllocationError(
                f"{len(request.arms)} arm{'' if len(request.arms) == 1 else 's'}{only} open to this patient: "
                "randomization needs at least two"
            )

    @staticmethod
    def open_arms(request: AllocationRequest) -> list[ArmWeight]:
        """The patient's open arms in protocol order (so that a draw maps to the same arm however they came)."""
        open_ids = set(request.arm_ids)
        return [a for a in request.all_arms if a.id in open_ids]

    # --- what each algorithm supplies ------------------------------------------------------------------------

    @abstractmethod
    def _settings(self) -> dict[str, Any]: ...

    @abstractmethod
    def _allocate(self, state: dict[str, Any], request: AllocationRequest, source: RandomSource) -> Allocation: ...

    @classmethod
    @abstractmethod
    def _from_parameters(cls, arms: tuple[ArmWeight, ...], settings: Mapping[str, Any]) -> Scheme: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.parameters()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scheme) and self.parameters() == other.parameters()

    def __hash__(self) -> int:
        return hash(repr(self))


def scheme_from_parameters(parameters: Mapping[str, Any]) -> Scheme:
    """Rebuild a scheme from the ``parameters()`` stored with an allocation (for replay without the protocol)."""
    if not isinstance(parameters, Mapping):
        raise AllocationError("scheme parameters must be a JSON object")
    method = parameters.get("method")
    cls = Scheme._registry.get(str(method))
    if cls is None:
        known = ", ".join(sorted(Scheme._registry))
        raise AllocationError(f"unknown randomization method {method!r} (known: {known})")
    try:
        arms = tuple(ArmWeight(id=a["id"], weight=a["weight"]) for a in parameters["arms"])
        settings = {k: v for k, v in parameters.items() if k not in ("method", "arms")}
        return cls._from_parameters(arms, settings)
    except (KeyError, TypeError, ValueError) as error:
        raise AllocationError(f"malformed {method} parameters: {error!r}") from None
