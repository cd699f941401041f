"""Pocock-Simon minimization with factor weights, unequal allocation ratios and a random element.

References
----------
Pocock SJ, Simon R (1975). Sequential treatment assignment with balancing for prognostic factors in the
controlled clinical trial. Biometrics 31:103-115.
Taves DR (1974). Minimization: a new method of assigning patients to treatment and control groups. Clin
Pharmacol Ther 15:443-453.
Kuznetsova OM, Tymofyeyev Y (2012). Preserving the allocation ratio at every allocation with biased coin
randomization and minimization in studies with unequal allocation. Stat Med 31:701-723.
Proschan M, Brittain E, Kammerman L (2011). Minimize the use of minimization with unequal allocation.
Biometrics 67:1135-1141.
Rosenberger WF, Lachin JM (2016). Randomization in Clinical Trials, 2nd ed. Wiley (covariate-adaptive
randomization).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from equipoise.allocate.draws import choose
from equipoise.allocate.errors import AllocationError
from equipoise.allocate.request import Allocation, AllocationRequest, ArmWeight, arm_signature
from equipoise.allocate.scheme import Scheme
from equipoise.allocate.sources import RandomSource

IMBALANCE_MEASURES = ("range", "variance", "sd")
MAX_UNITS = 60  # ratio-preserving mode: at most this many virtual arms (sum of the reduced integer weights)


@dataclass(frozen=True)
class _Unit:
    """What minimization balances: an arm, or (ratio-preserving mode) one of an arm's equal virtual arms."""

    id: str
    arm: str
    weight: float  # the divisor of its counts and its share of a probability split


def imbalance(values: Sequence[float], measure: str) -> float:
    """The spread of one factor's (scaled) counts across arms (Pocock & Simon 1975's imbalance function D).

    ``range`` is max - min; ``variance`` is the sample variance (divisor K-1, like R's ``var`` used by
    Minirand); ``sd`` its square root. For two arms, range and sd order candidates the same way.
    """
    if measure == "range":
        return max(values) - min(values)
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return variance if measure == "variance" else math.sqrt(variance)


class MinimizationScheme(Scheme):
    """Minimization (Pocock & Simon 1975, *Biometrics* 31:103-115; Taves 1974) with a random element.

    For a new patient with level l_f of each factor f (weights w_f): n_{f,k} counts earlier patients in arm k
    with that level. For each candidate arm k, add the patient to k, divide each arm's count by its allocation
    weight, and take the imbalance D (range, variance or sd) across the patient's open arms; the total is
    G_k = sum_f w_f · D_f(k). The arms with the smallest G share probability ``p`` (in proportion to their
    weights, so ties are broken at random) and the others share 1 - p the same way; when every arm ties, or
    for the first patient of a state row, allocation is simple randomization by the weights. p < 1 keeps every
    allocation random: deterministic minimization (p = 1, Taves) is predictable and regulators object to it
    (CPMP/EWP/2863/99, 2003). This follows the published description used by Minirand and Sealed Envelope;
    there is no R reference installed to compare with.

    **Unequal allocation.** Dividing counts by the ratio (``ratio_preserving: false``, as Minirand does)
    balances the scaled counts, but the *unconditional* probability of each arm then changes from patient to
    patient (at 2:1 with p = 0.8 the second patient goes to the larger arm with probability 0.4, not 2/3),
    which biases randomization-based inference and shifts the realised ratio under time trends (Kuznetsova &
    Tymofyeyev 2012, *Stat Med* 31:701-723; Proschan, Brittain & Kammerman 2011, *Biometrics* 67:1135-1141;
    Kaiser 2012, *Stat Med*, doi:10.1002/sim.5448). The default (``ratio_preserving: true``) therefore expands the
    ratio into equal allocation among virtual arms, w_k of them for arm k after reducing the weights to the
    smallest integers (the expansion technique of Kuznetsova & Tymofyeyev 2011, *Contemp Clin Trials*
    32:962-972): minimization with equal allocation runs on the virtual arms and the chosen one is mapped back
    to its arm. Because that rule treats the virtual arms symmetrically, every patient's unconditional
    probability of arm k is exactly w_k / sum(w). With equal weights the two modes are the same algorithm.

    **Which patients are counted.** Counts live in the state row ``"<stratum or trial>|<arms in force>"``:
    minimization runs within each stratum of ``stratify_by`` (those factors are not also summed, so site is
    never counted twice, cf. Slice issue #239), and restarts when an amendment changes the arms in force or
    their weights (old counts would otherwise send every patient to a newly added arm until it caught up).
    A patient with fewer open arms (site availability, contraindications) is balanced over those arms only.
    """

    method = "minimization"

    def __init__(
        self,
        arms: Sequence[ArmWeight],
        factor_weights: Mapping[str, float],
        probability: float = 0.8,
        imbalance: str = "range",
        ratio_preserving: bool = True,
    ) -> None:
        super().__init__(arms)
        if not factor_weights:
            raise AllocationError("minimization needs at least one factor to balance on")
        if any(not (math.isfinite(w) and w > 0) for w in factor_weights.values()):
            raise AllocationError(f"minimization factor weights must be positive, got {dict(factor_weights)}")
        if not 0 < probability <= 1:
            raise AllocationError(f"the minimization probability must be in (0, 1], not {probability}")
        if imbalance not in IMBALANCE_MEASURES:
            raise AllocationError(f"imbalance must be one of {', '.join(IMBALANCE_MEASURES)}, not {imbalance!r}")
        self.factor_weights = {k: float(v) for k, v in factor_weights.items()}
        self.probability = float(probability)
        self.imbalance = imbalance
        self.ratio_preserving = bool(ratio_preserving)
        self._units = self._make_units()

    def _make_units(self) -> list[_Unit]:
        if not self.ratio_preserving:
            return [_Unit(a.id, a.id, a.weight) for a in self.arms]
        multiples = _integer_ratio([a.weight for a in self.arms])
        if sum(multiples) > MAX_UNITS:
            raise AllocationError(
                f"ratio-preserving minimization expands {arm_signature(self.arms)} into {sum(multiples)} virtual "
                f"arms (more than {MAX_UNITS}); use simpler weights or ratio_preserving: false"
            )
        units: list[_Unit] = []
        for arm, m in zip(self.arms, multiples, strict=True):
            units += [_Unit(arm.id if m == 1 else f"{arm.id}#{j}", arm.id, 1.0) for j in range(1, m + 1)]
        return units

    def _settings(self) -> dict[str, Any]:
        return {
            "factors": dict(self.factor_weights),
            "probability": self.probability,
            "imbalance": self.imbalance,
            "ratio_preserving": self.ratio_preserving,
            "units": {u.id: u.arm for u in self._units},
        }

    @classmethod
    def _from_parameters(cls, arms: tuple[ArmWeight, ...], settings: Mapping[str, Any]) -> MinimizationScheme:
        return cls(arms, settings["factors"], settings["probability"], settings["imbalance"],
                   settings["ratio_preserving"])

    def state_key(self, request: AllocationRequest) -> str:
        return f"{request.stratum or 'trial'}|{arm_signature(request.all_arms)}"

    def initial_state(self) -> dict[str, Any]:
        return {"patients": 0, "counts": {}}

    def _allocate(self, state: dict[str, Any], request: AllocationRequest, source: RandomSource) -> Allocation:
        missing = [f for f in self.factor_weights if f not in request.factors]
        if missing:
            raise AllocationError(f"minimization needs the patient's level of {', '.join(missing)}")
        levels = {f: request.factors[f] for f in self.factor_weights}
        open_ids = set(request.arm_ids)
        units = [u for u in self._units if u.arm in open_ids]
        counts: dict[str, dict[str, dict[str, int]]] = state.get("counts", {})
        patients = int(state.get("patients", 0))
        at_level = {f: counts.get(f, {}).get(level, {}) for f, level in levels.items()}

        scores: dict[str, float] = {}
        by_factor: dict[str, dict[str, float]] = {}
        if patients == 0:
            minimizing = [u.id for u in units]  # first patient: simple randomization by the weights
        else:
            for candidate in units:
                by_factor[candidate.id] = {
                    f: imbalance(
                        [(at_level[f].get(u.id, 0) + (u is candidate)) / u.weight for u in units], self.imbalance
                    )
                    for f in levels
                }
                scores[candidate.id] = sum(self.factor_weights[f] * d for f, d in by_factor[candidate.id].items())
            best = min(scores.values())
            tolerance = 1e-9 * max(1.0, abs(best))  # scores are sums of ratios: equal ones may differ in the last bit
            minimizing = [u.id for u in units if scores[u.id] <= best + tolerance]
        unit_probabilities = self._probabilities(units, set(minimizing))
        chosen = choose(source, units, [unit_probabilities[u.id] for u in units])

        for f, level in levels.items():
            row = counts.setdefault(f, {}).setdefault(level, {})
            row[chosen.id] = row.get(chosen.id, 0) + 1
        arm_probabilities: dict[str, float] = {}
        for u in units:
            arm_probabilities[u.arm] = arm_probabilities.get(u.arm, 0.0) + unit_probabilities[u.id]
        diagnostics: dict[str, Any] = {
            "method": self.method,
            "patients_before": patients,
            "first_patient": patients == 0,
            "levels": levels,
            "counts_before": {f: {u.id: at_level[f].get(u.id, 0) for u in units} for f in levels},
            "imbalance": scores,
            "imbalance_by_factor": by_factor,
            "minimizing": minimizing,
            "probabilities": arm_probabilities,
        }
        if any(u.id != u.arm for u in units):
            diagnostics["unit"] = chosen.id
            diagnostics["unit_probabilities"] = unit_probabilities
        return Allocation(arm=chosen.arm, state={"patients": patients + 1, "counts": counts}, diagnostics=diagnostics)

    def _probabilities(self, units: list[_Unit], minimizing: set[str]) -> dict[str, float]:
        best = [u for u in units if u.id in minimizing]
        rest = [u for u in units if u.id not in minimizing]
        if not rest:
            total = sum(u.weight for u in units)
            return {u.id: u.weight / total for u in units}
        best_total = sum(u.weight for u in best)
        rest_total = sum(u.weight for u in rest)
        p = self.probability
        return {
            u.id: (p * u.weight / best_total if u.id in minimizing else (1 - p) * u.weight / rest_total)
            for u in units
        }


def _integer_ratio(weights: Sequence[float]) -> list[int]:
    """The smallest whole numbers in the same ratio (2:1:1:1 stays, 1.5:1 becomes 3:2)."""
    fractions = [Fraction(w).limit_denominator(1000) for w in weights]
    if any(abs(float(f) - w) > 1e-9 * w for f, w in zip(fractions, weights, strict=True)):
        raise AllocationError(
            f"ratio-preserving minimization needs weights in a simple whole-number ratio, not {list(weights)}"
        )
    scale = math.lcm(*(f.denominator for f in fractions))
    integers = [int(f * scale) for f in fractions]
    divisor = math.gcd(*integers)
    return [i // divisor for i in integers]
