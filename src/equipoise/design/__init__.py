"""Sample size, power and group-sequential boundaries (the ``design`` layer).

- ``gsd()`` computes a group-sequential design (Lan–DeMets spending or constant Pocock / O'Brien–Fleming
  boundaries, beta-spending futility, binding or not) and returns a ``GroupSequentialDesign``.
- ``crossing_probabilities()`` gives per-look boundary-crossing probabilities at any drift (J&T ch. 19).
- ``sample_size()`` and ``power()`` size fixed or group-sequential two-arm trials for binary, continuous,
  time-to-event and ordinal outcomes; ``design_protocol()`` sizes a protocol's analysis plan.

Numbers are validated against rpact 3.3.4 and Jennison & Turnbull's tables (``tests/design``).

References
----------
Jennison C, Turnbull BW (2000). Group Sequential Methods with Applications to Clinical Trials. Chapman &
Hall/CRC.
Lan KKG, DeMets DL (1983). Discrete sequential boundaries for clinical trials. Biometrika 70:659-663.
Wassmer G, Brannath W (2016). Group Sequential and Confirmatory Adaptive Designs in Clinical Trials.
Springer (the methods of rpact).
"""

from equipoise.design.group_sequential import GroupSequentialDesign, gsd
from equipoise.design.integration import crossing_probabilities
from equipoise.design.monitoring import InterimBounds, bounds_at
from equipoise.design.protocol_design import ProtocolDesign, design_protocol
from equipoise.design.sample_size import PowerResult, SampleSizeResult, power, sample_size
from equipoise.design.sequential_plan import GroupSequentialPlan
from equipoise.design.spending import Family

__all__ = [
    "Family",
    "GroupSequentialDesign",
    "GroupSequentialPlan",
    "InterimBounds",
    "PowerResult",
    "ProtocolDesign",
    "SampleSizeResult",
    "bounds_at",
    "crossing_probabilities",
    "design_protocol",
    "gsd",
    "power",
    "sample_size",
]
