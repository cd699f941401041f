import copy
import random
from typing import Any

import pytest

from equipoise.allocate import (
    ReplayDifference,
    ReplayRecord,
    ReplayReport,
    replay,
    scheme_from_parameters,
    scheme_from_protocol,
)
from tests.allocate.conftest import PLATFORM_DATES, RCT_DATE, Runner, platform_patient, rct_patient


@pytest.fixture(scope="module")
def platform_run(platform_blocks):
    """600 block allocations over the three protocol versions, with the scheme of each record."""
    rng = random.Random(61)
    runner = Runner(seed=62)
    schemes = []
    for date in PLATFORM_DATES:
        p = platform_blocks.in_force(date)
        for _ in range(200):
            site, values = platform_patient(rng, p)
            runner.allocate_patient(p, site, values)
            schemes.append(scheme_from_protocol(p))
    return runner, schemes


@pytest.fixture(scope="module")
def rct_run(rct):
    p = rct.in_force(RCT_DATE)
    rng = random.Random(63)
    runner = Runner(seed=64)
    for _ in range(300):
        runner.allocate_patient(p, *rct_patient(rng, p))
    return runner, scheme_from_protocol(p)


def test_replay_reproduces_every_allocation_and_the_final_states(platform_run, rct_run):
    runner, schemes = platform_run
    report = replay(schemes, runner.records)
    assert report.ok, str(report)
    assert report.checked == 600
    assert report.final_states == runner.states
    runner, scheme = rct_run
    assert replay(scheme, runner.records).ok
    assert replay(lambda record: scheme, [tuple(r[:5]) for r in runner.records]).ok
    # or from the parameters stored with each allocation, without the protocol
    assert replay(scheme_from_parameters(scheme.parameters()), runner.records).ok
    assert "all 300 allocations reproduced exactly" in str(replay(scheme, runner.records))


def first(report: ReplayReport) -> ReplayDifference:
    assert report.first_difference is not None, "the replay found nothing"
    return report.first_difference


def tampered(records: list[ReplayRecord], index: int, **changes: Any) -> list[ReplayRecord]:
    result = list(records)
    result[index] = result[index]._replace(**changes)
    return result


def test_a_changed_arm_is_reported_once_with_its_sequence_number(rct_run):
    runner, scheme = rct_run
    record = runner.records[120]
    other = "placebo" if record.arm == "msc" else "msc"
    report = replay(scheme, tampered(runner.records, 120, arm=other))
    assert [(d.sequence, d.field, d.expected, d.got) for d in report.differences] == [(121, "arm", other, record.arm)]
    assert "allocation 121: arm stored" in str(report)
    assert report.to_dict()["differences"][0]["sequence"] == 121


def test_a_changed_draw_is_found(rct_run):
    runner, scheme = rct_run
    # find an allocation where the draw decided the arm, and move the draw to the other side
    index = next(i for i, r in enumerate(runner.records) if r.diagnostics["probabilities"]["msc"] == 0.8)
    draw = runner.records[index].draws[0]
    report = replay(scheme, tampered(runner.records, index, draws=[0.9 if draw < 0.8 else 0.1]))
    assert (first(report).sequence, first(report).field) == (index + 1, "arm")


def test_missing_extra_and_invalid_draws_are_found(platform_run):
    runner, schemes = platform_run
    index = next(i for i, r in enumerate(runner.records) if len(r.draws) > 2)
    draws = list(runner.records[index].draws)
    fewer = replay(schemes, tampered(runner.records, index, draws=draws[:-1]))
    assert first(fewer).field == "draws"
    assert "too few" in first(fewer).got
    more = replay(schemes, tampered(runner.records, index, draws=[*draws, 0.5]))
    assert [(d.sequence, d.field) for d in more.differences] == [(index + 1, "draws")]
    bad = replay(schemes, tampered(runner.records, index, draws=[*draws[:-1], 1.5]))
    assert first(bad).field == "draws"
    assert "unusable" in first(bad).got


def test_a_changed_request_is_found(rct_run, platform_run):
    runner, scheme = rct_run
    index = 200
    request = copy.deepcopy(dict(runner.records[index].request))
    request["factors"]["severity"] = "critical" if request["factors"]["severity"] != "critical" else "mild"
    report = replay(scheme, tampered(runner.records, index, request=request))
    assert first(report).sequence == index + 1
    assert first(report).field in ("arm", "diagnostics")
    # opening an arm the patient could not have in the block scheme changes the state key
    runner, schemes = platform_run
    index = next(i for i, r in enumerate(runner.records) if r.request["arms"] != r.request["all_arms"])
    widened = copy.deepcopy(dict(runner.records[index].request))
    widened["arms"] = widened["all_arms"]
    report = replay(schemes, tampered(runner.records, index, request=widened))
    assert (first(report).sequence, first(report).field) == (index + 1, "state_key")
    garbage = replay(schemes, tampered(runner.records, 10, request={"arms": "x"}))
    assert (first(garbage).field, first(garbage).sequence) == ("request", 11)


def test_changed_diagnostics_or_state_key_are_found(platform_run):
    runner, schemes = platform_run
    diagnostics = copy.deepcopy(dict(runner.records[5].diagnostics))
    diagnostics["block_size"] += 1
    report = replay(schemes, tampered(runner.records, 5, diagnostics=diagnostics))
    assert [(d.sequence, d.field) for d in report.differences] == [(6, "diagnostics")]
    moved = replay(schemes, tampered(runner.records, 7, state_key="elsewhere"))
    assert [(d.sequence, d.field, d.expected) for d in moved.differences] == [(8, "state_key", "elsewhere")]


def test_sequence_numbers_come_from_the_store_when_given(rct_run):
    runner, scheme = rct_run
    numbered = [r._replace(sequence=1000 + i) for i, r in enumerate(runner.records)]
    numbered[3] = numbered[3]._replace(arm="nothing")
    assert first(replay(scheme, numbered)).sequence == 1003
