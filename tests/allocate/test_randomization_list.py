"""Allocation from an uploaded list (RND-8): the next entry of the stratum, nothing drawn, refusals with reasons."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from equipoise.allocate import (
    AllocationError,
    AllocationRequest,
    ArmWeight,
    RandomizationListScheme,
    RecordingSource,
    all_strata,
    scheme_from_parameters,
    scheme_from_protocol,
)
from equipoise.protocol import load_protocol, validate_file

LIST_TRIAL = Path(__file__).resolve().parents[1] / "server" / "data" / "list-trial.yaml"
ARMS = (ArmWeight("active", 1), ArmWeight("placebo", 1))


@dataclass(frozen=True)
class Entries:
    arms: dict[tuple[str, int], str]
    list_id: int = 7
    sha256: str = "ab" * 32

    def arm_at(self, stratum: str, position: int) -> str | None:
        return self.arms.get((stratum, position))


def _request(stratum: str, open_arms: tuple[ArmWeight, ...] = ARMS) -> AllocationRequest:
    return AllocationRequest(arms=open_arms, all_arms=ARMS, factors={}, stratum=stratum)


def test_each_stratum_takes_its_entries_in_order_and_nothing_is_drawn():
    entries = Entries({("a", 1): "placebo", ("a", 2): "active", ("b", 1): "active"})
    scheme = RandomizationListScheme(ARMS, entries)
    state = scheme.initial_state()
    source = RecordingSource()
    first = scheme.allocate(state, _request("a"), source)
    second = scheme.allocate(first.state, _request("a"), source)
    other = scheme.allocate(scheme.initial_state(), _request("b"), source)
    assert [first.arm, second.arm, other.arm] == ["placebo", "active", "active"]
    assert second.state == {"used": 2}
    assert second.diagnostics == {"method": "list", "list_id": 7, "position": 2}
    assert source.draws == []
    assert state == {"used": 0}  # the given state is never changed
    assert scheme.parameters() == {"method": "list", "arms": [a.to_dict() for a in ARMS],
                                   "list": {"id": 7, "sha256": "ab" * 32}}
    # Rebuilt from the stored parameters the scheme describes itself, but cannot allocate without the entries.
    rebuilt = scheme_from_parameters(scheme.parameters())
    assert rebuilt == scheme
    with pytest.raises(AllocationError, match="none is active"):
        rebuilt.allocate(state, _request("a"), RecordingSource())


def test_refusals_say_why():
    scheme = RandomizationListScheme(ARMS, Entries({("a", 1): "placebo"}))
    with pytest.raises(AllocationError, match="used up for stratum a"):
        scheme.allocate({"used": 1}, _request("a"), RecordingSource())
    three = (*ARMS, ArmWeight("other", 1))
    with pytest.raises(AllocationError, match=r"arm\(s\) other are not open .* cannot leave arms out"):
        RandomizationListScheme(three, Entries({("a", 1): "placebo"})).allocate(
            {"used": 0}, AllocationRequest(arms=ARMS, all_arms=three, stratum="a"), RecordingSource())


def test_protocol_builds_the_list_scheme_and_names_every_stratum():
    protocol = load_protocol(LIST_TRIAL)
    scheme = scheme_from_protocol(protocol, Entries({}))
    assert isinstance(scheme, RandomizationListScheme)
    assert all_strata(protocol) == ["site=s1;group=mild", "site=s1;group=severe", "site=s2;group=mild",
                                    "site=s2;group=severe"]


def test_a_list_trial_cannot_close_arms_to_some_patients(tmp_path: Path):
    text = LIST_TRIAL.read_text().replace("kit_prefix: LI}\n  - {id: placebo",
                                          "kit_prefix: LI, excluded_if: [consent]}\n  - {id: placebo", 1)
    path = tmp_path / "list-excluded.yaml"
    path.write_text(text)
    report = validate_file(path)
    assert any("cannot leave arms out" in str(p) for p in report.errors)


def test_emergency_envelopes_come_in_balanced_blocks():
    from equipoise.allocate import SeededSource
    from equipoise.allocate.emergency_envelopes import draw_envelopes

    arms = (ArmWeight("usual_care", 2), ArmWeight("drug_a", 1), ArmWeight("drug_b", 1))
    drawn = draw_envelopes(arms, 400, SeededSource(11))
    assert len(drawn) == 400
    # At every point the imbalance against the 2:1:1 ratio is at most one block (two replicates) of it.
    counts = {a.id: 0 for a in arms}
    for i, arm in enumerate(drawn, start=1):
        counts[arm] += 1
        for a in arms:
            assert abs(counts[a.id] - i * a.weight / 4) <= 2 * a.weight
    with pytest.raises(AllocationError, match="at least two arms"):
        draw_envelopes(arms[:1], 3, SeededSource(1))


def test_a_generated_list_is_reproducible_from_its_seed_balanced_and_accepted_by_the_upload(tmp_path: Path):
    from collections import Counter

    from equipoise.allocate.list_generation import generate_list, list_csv
    from equipoise.services.randomization_lists import parse_list
    from tests.integration.conftest import cli

    protocol = load_protocol(LIST_TRIAL)
    entries = generate_list(protocol, 10, seed=2024, block_sizes=[4, 6])
    assert list_csv(protocol, entries) == list_csv(protocol, generate_list(protocol, 10, seed=2024, block_sizes=[4, 6]))
    assert list_csv(protocol, entries) != list_csv(protocol, generate_list(protocol, 10, seed=2025, block_sizes=[4, 6]))
    by_stratum: dict[str, list[str]] = {}
    for e in entries:
        by_stratum.setdefault(e.stratum, []).append(e.arm)
    assert set(by_stratum) == set(all_strata(protocol))
    for arms in by_stratum.values():
        assert len(arms) >= 10
        assert Counter(arms)["active"] == Counter(arms)["placebo"]  # whole blocks at 1:1
    blocks = Counter((e.stratum, e.block) for e in entries)
    assert set(blocks.values()) <= {4, 6}
    parsed = parse_list(protocol, list_csv(protocol, entries))  # the extra block columns are ignored
    assert parsed.strata == by_stratum
    with pytest.raises(AllocationError, match="multiples"):
        generate_list(protocol, 10, seed=1, block_sizes=[3])
    # The command writes the file (owner-only) and prints its SHA-256 for the upload.
    out = tmp_path / "list.csv"
    made = cli("allocation", "generate-list", LIST_TRIAL, "--output", out, "--per-stratum", "10", "--seed", "2024",
               "--block-sizes", "4,6")
    assert made.code == 0, made.stderr
    assert out.read_text() == list_csv(protocol, entries)
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    import hashlib

    assert hashlib.sha256(out.read_bytes()).hexdigest() in made.stdout
    again = cli("allocation", "generate-list", LIST_TRIAL, "--output", out, "--per-stratum", "10", "--seed", "1")
    assert again.code != 0
    assert "exists already" in again.stderr
