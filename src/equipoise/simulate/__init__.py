"""Simulate: virtual COVID-19 patients and the operating characteristics of any trial design.

- ``natural_history``: a daily WHO-scale state model calibrated to RECOVERY, ACTT-1 and China CDC figures.
- ``simulate_single_arm``: how often an uncontrolled study's claims come true with no effect (or a given one).
- ``check_claim``: the claim check, the same single-arm study with no effect and with real effects side by side.
- ``simulate_group_sequential``: two-arm fixed and group-sequential designs (binary, normal, ordinal,
  survival), validated against rpact's getSimulation* functions.
- ``simulate_platform``: Bayesian adaptive multi-arm platforms (adaptr's feature set).
- ``simulate_protocol``: any protocol file's primary comparison.
Every simulation is reproducible from one seed and runs unchanged on a Dask cluster (``scheduler=``).
"""

from equipoise.simulate.claim_check import ClaimCheck, Scenario, check_claim
from equipoise.simulate.endpoints import BinaryEndpoint, NormalEndpoint, OrdinalEndpoint, SurvivalEndpoint
from equipoise.simulate.engine import run_chunks
from equipoise.simulate.generators import Binary, Normal, PiecewiseExponential, exponential, piecewise_exponential
from equipoise.simulate.group_sequential import OperatingCharacteristics, SequentialPlan, simulate_group_sequential
from equipoise.simulate.natural_history import NaturalHistory, Paths, load_natural_history
from equipoise.simulate.platform import PlatformDesign, PlatformResult, simulate_platform
from equipoise.simulate.power_curve import PowerCurve
from equipoise.simulate.protocol import Effect, power_curve, simulate_protocol
from equipoise.simulate.single_arm import SingleArmDesign, SingleArmResult, simulate_single_arm

__all__ = [
    "Binary",
    "BinaryEndpoint",
    "ClaimCheck",
    "Effect",
    "NaturalHistory",
    "Normal",
    "NormalEndpoint",
    "OperatingCharacteristics",
    "OrdinalEndpoint",
    "Paths",
    "PiecewiseExponential",
    "PlatformDesign",
    "PlatformResult",
    "PowerCurve",
    "Scenario",
    "SequentialPlan",
    "SingleArmDesign",
    "SingleArmResult",
    "SurvivalEndpoint",
    "check_claim",
    "exponential",
    "load_natural_history",
    "piecewise_exponential",
    "power_curve",
    "run_chunks",
    "simulate_group_sequential",
    "simulate_platform",
    "simulate_protocol",
    "simulate_single_arm",
]
