"""Simple (complete) randomization, weighted by the allocation ratio.

References
----------
Rosenberger WF, Lachin JM (2016). Randomization in Clinical Trials: Theory and Practice, 2nd ed.
Wiley, ch. 3 (complete randomization).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from equipoise.allocate.draws import choose
from equipoise.allocate.request import Allocation, AllocationRequest, ArmWeight
from equipoise.allocate.scheme import Scheme
from equipoise.allocate.sources import RandomSource


class SimpleScheme(Scheme):
    """Each patient independently, with probability proportional to the allocation weights of the open arms.

    Rosenberger & Lachin (2016), *Randomization in Clinical Trials*, 2nd ed., ch. 3 (complete randomization);
    with unequal weights, each arm k has probability w_k / sum of open weights. This is what RECOVERY used
    ("web-based simple (unstratified) randomisation", 2:1:1:1 with usual care doubled): a patient for whom some
    arms are unsuitable or unavailable is randomized between fewer arms, keeping the weights of the others.
    Stateless: ``state_key`` is "" and the state stays {}.
    """

    method = "simple"

    def state_key(self, request: AllocationRequest) -> str:
        return ""

    def initial_state(self) -> dict[str, Any]:
        return {}

    def _settings(self) -> dict[str, Any]:
        return {}

    @classmethod
    def _from_parameters(cls, arms: tuple[ArmWeight, ...], settings: Mapping[str, Any]) -> SimpleScheme:
        return cls(arms)

    def _allocate(self, state: dict[str, Any], request: AllocationRequest, source: RandomSource) -> Allocation:
        arms = self.open_arms(request)
        total = sum(a.weight for a in arms)
        probabilities = {a.id: a.weight / total for a in arms}
        arm = choose(source, list(probabilities), list(probabilities.values()))
        return Allocation(arm=arm, state=state, diagnostics={"method": self.method, "probabilities": probabilities})
