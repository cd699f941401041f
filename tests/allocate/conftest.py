"""Fixtures for the allocation tests: the example protocols, variants of them, and a server-like runner."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from equipoise.allocate import (
    Allocation,
    AllocationRequest,
    RecordingSource,
    ReplayRecord,
    Scheme,
    SeededSource,
    build_request,
    scheme_from_protocol,
)
from equipoise.protocol import Protocol, load_protocol, validate_text
from tests.conftest import EXAMPLES

RCT_TEXT = (EXAMPLES / "covid19-msc-rct.yaml").read_text(encoding="utf-8")
PLATFORM_TEXT = (EXAMPLES / "covid19-platform.yaml").read_text(encoding="utf-8")

# Dates at which the platform has 4 arms (v1.0), 5 arms (v2.0, azithromycin added) and 4 again (v3.0, no HCQ).
PLATFORM_DATES = (dt.date(2020, 4, 1), dt.date(2020, 5, 1), dt.date(2020, 7, 1))
RCT_DATE = dt.date(2021, 1, 4)

PLATFORM_FACTORS = """randomization:
  method: {method}
  factors:
    - {{id: support, field: respiratory_support}}
    - {{id: age70, field: age, cutpoints: [70], levels: [under-70, 70-and-over]}}
    - {{id: site, field: site}}
"""


def variant(base: str, old: str, new: str) -> Protocol:
    """An example protocol with one piece of text replaced; it must still be a valid protocol file."""
    assert old in base, f"the example no longer contains {old!r}"
    report = validate_text(base.replace(old, new, 1), "variant.yaml")
    assert report.protocol is not None, str(report)
    return report.protocol


def platform_with(settings: str, method: str) -> Protocol:
    """The platform example randomized by ``method`` with the given extra settings."""
    new = PLATFORM_FACTORS.format(method=method) + settings
    return variant(PLATFORM_TEXT, "randomization:\n  method: simple\n", new)


@pytest.fixture(scope="session")
def rct() -> Protocol:
    return load_protocol(EXAMPLES / "covid19-msc-rct.yaml")


@pytest.fixture(scope="session")
def platform() -> Protocol:
    return load_protocol(EXAMPLES / "covid19-platform.yaml")


@pytest.fixture(scope="session")
def platform_blocks() -> Protocol:
    # Sizes must be multiples of 5 (2:1:1:1) and of 6 (after azithromycin is added): 30 and 60.
    return platform_with("  stratify_by: [support]\n  block_sizes: [30, 60]\n", "permuted-blocks")


@pytest.fixture(scope="session")
def platform_minimization() -> Protocol:
    return platform_with(
        "  minimization: {weights: {support: 2, age70: 1, site: 1}, probability: 0.8}\n", "minimization"
    )


@pytest.fixture(scope="session")
def platform_adaptive() -> Protocol:
    return platform_with("  adaptive: {burn_in: 50, floor: 0.05, control_share: 0.35}\n", "response-adaptive")


def json_copy(value: Any) -> Any:
    """What comes back from a JSON column: proves the value is JSON and detaches it from the caller."""
    return json.loads(json.dumps(value))


def platform_patient(rng: random.Random, protocol: Protocol) -> tuple[str, dict[str, object]]:
    """A random platform patient: site and enrolment values, with contraindications now and then."""
    site = rng.choice([s.id for s in protocol.sites])
    values: dict[str, object] = {
        "age": rng.randint(18, 95),
        "sex": rng.choice(["female", "male"]),
        "respiratory_support": rng.choice(["none", "oxygen", "invasive-ventilation"]),
        "sars_cov_2": True,
        "consent": True,
        "long_qt": rng.random() < 0.2,
        "on_interacting_drug": rng.random() < 0.2,
        "macrolide_allergy": rng.random() < 0.2,
    }
    return site, values


def rct_patient(rng: random.Random, protocol: Protocol) -> tuple[str, dict[str, object]]:
    site = rng.choice([s.id for s in protocol.sites])
    return site, {"age": rng.randint(18, 90), "severity": rng.choice(["mild", "mild", "severe", "critical"])}


@dataclass
class Runner:
    """Does what the server does: one state row per state key, JSON in and out, draws recorded."""

    seed: int
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: list[ReplayRecord] = field(default_factory=list)
    requests: list[AllocationRequest] = field(default_factory=list)
    allocations: list[Allocation] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.source = SeededSource(self.seed)

    def allocate(self, scheme: Scheme, request: AllocationRequest) -> Allocation:
        key = scheme.state_key(request)
        state = json_copy(self.states.get(key, scheme.initial_state()))
        recording = RecordingSource(self.source)
        allocation = scheme.allocate(state, request, recording)
        self.states[key] = json_copy(allocation.state)
        self.records.append(
            ReplayRecord(key, json_copy(request.to_dict()), json_copy(recording.draws), allocation.arm,
                         json_copy(allocation.diagnostics))
        )
        self.requests.append(request)
        self.allocations.append(allocation)
        return allocation

    def allocate_patient(
        self,
        protocol: Protocol,
        site: str,
        values: Mapping[str, object],
        table: Mapping[str, float] | None = None,
    ) -> Allocation:
        return self.allocate(scheme_from_protocol(protocol), build_request(protocol, site, values, table))
