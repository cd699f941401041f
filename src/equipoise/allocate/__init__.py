"""Randomization algorithms: (state, request, random draws) -> allocation. Pure: no database, no I/O.

The server locks the state row named by ``scheme.state_key(request)``, calls ``scheme.allocate`` with a
``RecordingSource`` and stores the arm, draws, new state and diagnostics in one transaction; ``replay``
recomputes every stored allocation with ``ReplaySource``.

References
----------
Rosenberger WF, Lachin JM (2016). Randomization in Clinical Trials: Theory and Practice, 2nd ed. Wiley.
"""

from equipoise.allocate.adaptive import ResponseAdaptiveScheme
from equipoise.allocate.errors import AllocationError
from equipoise.allocate.from_protocol import (
    all_strata,
    arm_weights,
    arms_for_patient,
    build_request,
    factor_levels,
    patient_factors,
    scheme_from_protocol,
    stratum_key,
)
from equipoise.allocate.minimization import MinimizationScheme
from equipoise.allocate.permuted_blocks import PermutedBlocksScheme
from equipoise.allocate.randomization_list import ListEntries, RandomizationListScheme
from equipoise.allocate.replay import ReplayDifference, ReplayRecord, ReplayReport, replay
from equipoise.allocate.request import Allocation, AllocationRequest, ArmWeight, arm_signature
from equipoise.allocate.scheme import Scheme, scheme_from_parameters
from equipoise.allocate.simple import SimpleScheme
from equipoise.allocate.sources import (
    RandomSource,
    RecordingSource,
    ReplayExhausted,
    ReplaySource,
    SeededSource,
    SystemSource,
)

__all__ = [
    "Allocation",
    "AllocationError",
    "AllocationRequest",
    "ArmWeight",
    "ListEntries",
    "MinimizationScheme",
    "PermutedBlocksScheme",
    "RandomSource",
    "RandomizationListScheme",
    "RecordingSource",
    "ReplayDifference",
    "ReplayExhausted",
    "ReplayRecord",
    "ReplayReport",
    "ReplaySource",
    "ResponseAdaptiveScheme",
    "Scheme",
    "SeededSource",
    "SimpleScheme",
    "SystemSource",
    "all_strata",
    "arm_signature",
    "arm_weights",
    "arms_for_patient",
    "build_request",
    "factor_levels",
    "patient_factors",
    "replay",
    "scheme_from_parameters",
    "scheme_from_protocol",
    "stratum_key",
]
