"""adaptr's README scenario (the fixture cites it: 3 arms, 18 looks, RAR with 20% floors, equivalence stopping,
superiority threshold calibrated by adaptr) reproduced by ``simulate_platform``: every published operating
characteristic, to Monte Carlo error of both simulations (adaptr's 1000 and ours)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from equipoise.simulate.engine import run_chunks
from equipoise.simulate.platform import PlatformDesign, _PlatformTask

REF: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "reference" / "fixtures" / "adaptr_readme.json").read_text())
N = 3000


def design_from_fixture(superiority: float | None = None) -> PlatformDesign:
    s = REF["settings"]
    looks, rand = s["data_looks"], s["randomised_at_looks"]
    sup = s["superiority"] if superiority is None else superiority
    return PlatformDesign(
        arms=tuple(s["arms"]), true_rates=tuple(s["true_ys"]), min_probs=tuple(s["min_probs"]),
        data_looks=tuple(range(looks["from"], looks["to"] + 1, looks["by"])),
        randomised_at_looks=(*range(rand["from"], rand["to"] + 1, rand["by"]), *rand["then"]),
        superiority=sup, inferiority=1 - sup, equivalence_prob=s["equivalence_prob"],
        equivalence_diff=s["equivalence_diff"])


@pytest.fixture(scope="module")
def records() -> dict[str, np.ndarray]:
    return run_chunks(_PlatformTask(design_from_fixture()), N, 2022, chunk_size=500)


def test_decision_probabilities(records: dict[str, np.ndarray]) -> None:
    published = REF["results"]
    status = records["status"]
    for code, key in ((0, "prob_superior"), (1, "prob_equivalence"), (3, "prob_max")):
        ours, theirs = float(np.mean(status == code)), published[key]
        se = math.sqrt(theirs * (1 - theirs) * (1 / N + 1 / published["n_simulations"]))
        assert abs(ours - theirs) <= 3 * se, (key, ours, theirs)
    assert np.mean(status == 2) == published["prob_futility"] == 0


def test_sample_size_and_events(records: dict[str, np.ndarray]) -> None:
    published = REF["results"]
    size = records["size"].astype(float)
    assert abs(size.mean() - published["size_mean"]) <= 3 * math.hypot(published["size_mean_se"],
                                                                       size.std() / math.sqrt(N))
    sd_se_ours = published["size_sd_se"] * math.sqrt(published["n_simulations"] / N)
    assert abs(size.std(ddof=1) - published["size_sd"]) <= 3 * math.hypot(published["size_sd_se"], sd_se_ours)
    assert np.median(size) == published["size_median"]
    assert abs(np.quantile(size, 0.25) - published["size_p25"]) <= 100  # one look either side
    events = records["events"].astype(float)
    assert abs(events.mean() - published["sum_ys_mean"]) <= 3 * math.hypot(published["sum_ys_mean_se"],
                                                                           events.std() / math.sqrt(N))
