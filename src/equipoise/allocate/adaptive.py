"""Response-adaptive randomization from a probability table supplied by the statisticians.

References
----------
Thall PF, Wathen JK (2007). Practical Bayesian adaptive randomisation in clinical trials. Eur J Cancer
43:859-866. Berry SM, Carlin BP, Lee JJ, Müller P (2010). Bayesian Adaptive Methods for Clinical Trials. CRC.
Rosenberger WF, Lachin JM (2016). Randomization in Clinical Trials, 2nd ed. Wiley (response-adaptive
randomization).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from equipoise.allocate.draws import choose
from equipoise.allocate.errors import AllocationError
from equipoise.allocate.request import Allocation, AllocationRequest, ArmWeight
from equipoise.allocate.scheme import Scheme
from equipoise.allocate.sources import RandomSource


def floored(raw: Sequence[float], mass: float, floor: float) -> list[float]:
    """Shares of ``mass`` proportional to ``raw``, none below ``floor``.

    The arms that would fall below the floor are set to it and the rest are scaled down proportionally to
    fill what is left, repeated until no arm is below (the usual way a minimum allocation probability is
    imposed in RAR; Robertson et al. 2023, *Stat Sci* 38:185-208). If the floors alone use up the mass,
    the arms share it equally.
    """
    k = len(raw)
    if floor * k >= mass:
        return [mass / k] * k
    fixed: set[int] = set()
    while True:
        free = [i for i in range(k) if i not in fixed]
        free_raw = sum(raw[i] for i in free)
        left = mass - floor * len(fixed)
        shares = [floor if i in fixed else (left * raw[i] / free_raw if free_raw > 0 else left / len(free))
                  for i in range(k)]
        below = {i for i in free if shares[i] < floor}
        if not below:
            return shares
        fixed |= below


def bounded(raw: Sequence[float], mass: float, floor: float, ceiling: float) -> list[float]:
    """Shares of ``mass`` proportional to ``raw``, each clipped to [``floor``, ``ceiling``] (water-filling).

    s_i = min(ceiling, max(floor, c * raw_i)) with the one scale c that makes them add up to ``mass``; found by
    bisection, since the sum only grows with c. With no cap (ceiling 1) this is ``floored``; the cap keeps any
    one arm from taking nearly every patient on an early, noisy table (REMAP-CAP capped response-adaptive
    probabilities; Robertson et al. 2023, *Stat Sci* 38:185-208, §4). If the bounds leave no room (floors or
    caps alone decide the mass), the arms share it equally.
    """
    k = len(raw)
    if floor * k >= mass or ceiling * k <= mass:
        return [mass / k] * k
    top = max(raw)
    if not top > 0:
        return [mass / k] * k
    # Relative to the largest value; a share below 1e-12 of it is none (it keeps the scale's bracket finite).
    raw = [r / top if r >= 1e-12 * top else 0.0 for r in raw]
    positive = [r for r in raw if r > 0]

    def total(c: float) -> float:
        return sum(min(ceiling, max(floor, c * r)) for r in raw)

    low, high = 0.0, ceiling / min(positive)  # every arm with raw > 0 at the cap
    if total(high) < mass:  # the capped arms and the floors of the others leave mass over: the others share it
        rest = (mass - ceiling * len(positive)) / (k - len(positive))
        return [ceiling if r > 0 else rest for r in raw]
    for _ in range(200):
        mid = (low + high) / 2
        if total(mid) < mass:
            low = mid
        else:
            high = mid
    return [min(ceiling, max(floor, high * r)) for r in raw]


class ResponseAdaptiveScheme(Scheme):
    """Allocation probabilities from the statisticians' current table, with burn-in, floor and control share.

    The Bayesian model that produces the table lives outside this layer (REMAP-CAP: Angus et al. 2020, *Ann
    Am Thorac Soc* 17:879-891); the engine only consumes it. For each patient:

    1. Burn-in: the first ``burn_in`` patients of the trial (counted in the state row ``"trial"``) and any
       patient while no table has been supplied, or whose table lacks one of the patient's open arms (an arm
       added since the last update), are allocated by the fixed allocation weights among the open arms.
    2. Otherwise the table is restricted to the patient's open arms. If the protocol fixes a ``control_share``
       and the control arm is open, the control gets exactly that share and the other open arms split the
       rest in proportion to their table values; otherwise all open arms split 1 in proportion to their
       table values (renormalised).
    3. No arm whose share comes from the table gets less than ``floor`` (see ``floored``), nor, when the
       protocol sets a ``ceiling``, more than it (see ``bounded``); a fixed control share is kept as it is.

    A fixed control share and a floor are the mitigations Proschan & Evans (2020, *Clin Infect Dis*
    71:3002-3004) and Robertson et al. (2023) discuss against time-trend bias and runaway allocation.
    """

    method = "response-adaptive"

    def __init__(
        self,
        arms: Sequence[ArmWeight],
        burn_in: int = 0,
        floor: float = 0.0,
        control_arm: str | None = None,
        control_share: float | None = None,
        ceiling: float | None = None,
    ) -> None:
        super().__init__(arms)
        if burn_in < 0:
            raise AllocationError(f"burn_in must be >= 0, not {burn_in}")
        if not 0 <= floor < 1:
            raise AllocationError(f"the probability floor must be in [0, 1), not {floor}")
        if control_share is not None:
            if not 0 < control_share < 1:
                raise AllocationError(f"the control share must be in (0, 1), not {control_share}")
            if control_arm is None:
                raise AllocationError("a fixed control share needs a control arm (analysis.control_arm)")
        if control_arm is not None and control_arm not in {a.id for a in self.arms}:
            raise AllocationError(f"control arm {control_arm!r} is not in force")
        if ceiling is not None and not floor < ceiling <= 1:
            raise AllocationError(f"the probability ceiling must be above the floor ({floor}) and at most 1, not "
                                  f"{ceiling}")
        self.ceiling = None if ceiling is None else float(ceiling)
        self.burn_in = int(burn_in)
        self.floor = float(floor)
        self.control_arm = control_arm
        self.control_share = None if control_share is None else float(control_share)

    def _settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "burn_in": self.burn_in,
            "floor": self.floor,
            "control_arm": self.control_arm,
            "control_share": self.control_share,
        }
        if self.ceiling is not None:  # absent when unset, so allocations stored before it existed replay as stored
            settings["ceiling"] = self.ceiling
        return settings

    @classmethod
    def _from_parameters(cls, arms: tuple[ArmWeight, ...], settings: Mapping[str, Any]) -> ResponseAdaptiveScheme:
        return cls(arms, settings["burn_in"], settings["floor"], settings["control_arm"], settings["control_share"],
                   settings.get("ceiling"))

    def state_key(self, request: AllocationRequest) -> str:
        return "trial"

    def initial_state(self) -> dict[str, Any]:
        return {"patients": 0}

    def probabilities(self, request: AllocationRequest, patients_before: int) -> tuple[str, dict[str, float]]:
        """The phase (burn-in, no-table, incomplete-table, adaptive) and the probability of each open arm."""
        arms = self.open_arms(request)
        table = request.adaptive_probabilities
        if patients_before < self.burn_in or table is None or any(a.id not in table for a in arms):
            phase = (
                "burn-in" if patients_before < self.burn_in else "no-table" if table is None else "incomplete-table"
            )
            total = sum(a.weight for a in arms)
            return phase, {a.id: a.weight / total for a in arms}
        control = self.control_arm if self.control_share is not None else None
        fixed = control is not None and any(a.id == control for a in arms)
        others = [a for a in arms if not (fixed and a.id == control)]
        mass = 1.0 - self.control_share if fixed and self.control_share is not None else 1.0
        raw = [table[a.id] for a in others]
        if sum(raw) <= 0:
            raw = [a.weight for a in others]  # the table gives nothing to any open arm: fall back to the weights
        split = floored(raw, mass, self.floor) if self.ceiling is None else bounded(raw, mass, self.floor,
                                                                                     self.ceiling)
        shares = dict(zip((a.id for a in others), split, strict=True))
        if fixed and control is not None:
            shares[control] = 1.0 - mass
        return "adaptive", {a.id: shares[a.id] for a in arms}

    def _allocate(self, state: dict[str, Any], request: AllocationRequest, source: RandomSource) -> Allocation:
        patients = int(state.get("patients", 0))
        phase, probabilities = self.probabilities(request, patients)
        arm = choose(source, list(probabilities), list(probabilities.values()))
        table = request.adaptive_probabilities
        diagnostics = {
            "method": self.method,
            "phase": phase,
            "patients_before": patients,
            "table": None if table is None else {a: table[a] for a in request.arm_ids if a in table},
            "probabilities": probabilities,
        }
        return Allocation(arm=arm, state={"patients": patients + 1}, diagnostics=diagnostics)
