"""RECOVERY's rule for every method: a patient is randomized among the arms the site offers and the patient
can have, checked against the protocol itself (not against the request built from it)."""

import random

import pytest

from equipoise.allocate import patient_factors
from equipoise.protocol import Protocol
from tests.allocate.conftest import PLATFORM_DATES, Runner, platform_patient, platform_with

METHODS = {
    "simple": ("", "simple"),
    "permuted-blocks": ("  stratify_by: [support]\n  block_sizes: [30, 60]\n", "permuted-blocks"),
    "minimization": ("  minimization: {weights: {support: 2, age70: 1, site: 1}}\n", "minimization"),
    "response-adaptive": ("  adaptive: {burn_in: 20, floor: 0.02}\n", "response-adaptive"),
}
TABLE = {"usual_care": 0.3, "dexamethasone": 0.3, "hydroxychloroquine": 0.2, "lopinavir": 0.1, "azithromycin": 0.1}


@pytest.mark.parametrize("method", list(METHODS))
def test_no_method_allocates_an_unavailable_or_contraindicated_arm(method):
    protocol: Protocol = platform_with(*METHODS[method])
    rng = random.Random(71)
    runner = Runner(seed=72)
    seen_fewer = 0
    for date in PLATFORM_DATES:
        p = protocol.in_force(date)
        for _ in range(250):
            site, values = platform_patient(rng, p)
            allocation = runner.allocate_patient(p, site, values, TABLE)
            arm = p.arm(allocation.arm)
            assert arm is not None
            assert arm.id in [a.id for a in p.arms_at_site(site)], (site, arm.id)
            assert not any(values[name] for name in arm.excluded_if), (arm.id, values)
            seen_fewer += len(runner.requests[-1].arms) < len(p.arms)
    assert seen_fewer > 200  # the scenario really exercises fewer arms


def test_a_yes_no_factor_has_levels_yes_and_no():
    p = platform_with(
        "    - {id: qt, field: long_qt}\n  minimization: {weights: {qt: 1, support: 1}}\n", "minimization"
    ).in_force(PLATFORM_DATES[0])
    _site, values = platform_patient(random.Random(1), p)
    assert patient_factors(p, {**values, "long_qt": True}, "oxford")["qt"] == "yes"
    assert patient_factors(p, {**values, "long_qt": False}, "oxford")["qt"] == "no"
