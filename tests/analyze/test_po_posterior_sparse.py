"""The proportional-odds posterior and the protocol analysis on sparse early looks: a handful of patients, levels
empty in one arm, separation.

Regression tests for the crash fixed by commit b72d1c7: on such data the code before it stopped with scipy's
"`y` must contain only finite values" (failed grid refits fed to the spline). The data sets below were found by
searching small random trials against that code; each of them made it stop. They are hard-coded, so the tests
draw nothing at random.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pytest

from equipoise.analyze.bayes import Posterior, proportional_odds_posterior
from equipoise.analyze.frame import analyze_ordinal, ordinal_posterior
from equipoise.analyze.protocol_analysis import run_protocol
from equipoise.errors import UserError
from equipoise.protocol import Protocol, load_protocol

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "reference" / "fixtures"
PROTOCOL = ROOT / "examples" / "covid19-msc-rct.yaml"

# Outcome level indices, arm (1 = MSC) and one covariate; R's posterior for each is in analyze_po_sparse.json
# (tests/reference/analyze_po_sparse.R).
SPARSE: dict[str, dict[str, Any]] = {
    # six patients; commit b72d1c7 refused these too: its grid refits warm-started from the far side of the
    # estimate diverged, and more than half the grid was lost
    "six_patients_age": {"y": [2, 0, 1, 0, 2, 0], "msc": [1, 1, 1, 1, 0, 0],
                         "covariate": [49, 62, 65, 77, 42, 57], "orientation": "lower"},
    "seven_patients_binary": {"y": [3, 0, 4, 1, 0, 2, 2], "msc": [1, 1, 1, 1, 1, 0, 0],
                              "covariate": [1, 1, 1, 0, 1, 0, 0], "orientation": "higher"},
}


@pytest.fixture(scope="module")
def sparse_ref() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "analyze_po_sparse.json").read_text(encoding="utf-8"))
    return data


def assert_proper(post: Posterior) -> None:
    """A posterior that means something: finite, ordered, probabilities that agree with each other."""
    assert all(math.isfinite(v) for v in (post.posterior_median, post.credible_low, post.credible_high))
    assert 0 < post.credible_low < post.posterior_median < post.credible_high
    assert post.probability_important is not None
    # P(OR > 1.2) <= P(OR > 1), both strictly inside (0, 1) under a normal prior
    assert 0 < post.probability_important < post.probability_of_benefit < 1
    assert (post.posterior_median > 1) == (post.probability_of_benefit > 0.5)


@pytest.mark.parametrize("name", sorted(SPARSE))
def test_po_posterior_on_a_sparse_look_equals_r(name: str, sparse_ref: dict[str, Any]) -> None:
    case = SPARSE[name]
    r = sparse_ref["cases"][name]
    assert {k: r[k] for k in case} == case  # the reference was computed on these very data
    post = proportional_odds_posterior(case["y"], case["msc"], case["covariate"], orientation=case["orientation"],
                                       prior_sd=r["prior_sd"], important=r["important"])
    assert post.probability_of_benefit == pytest.approx(r["p_benefit"], abs=1e-6)
    assert post.probability_important == pytest.approx(r["p_important"], abs=1e-6)
    assert_proper(post)


SEPARATED = [
    # every MSC patient at level 0 or 1, every control at 1 or 2: quasi-complete separation by arm
    pytest.param([0, 1, 1, 0, 1, 1, 2, 1, 1], [1, 1, 1, 1, 0, 0, 0, 0, 0], None, "higher", id="arm"),
    # the two patients with the covariate are at levels 2 and 3, the others at 0 to 2: separation by covariate
    pytest.param([3, 0, 2, 2, 2, 1], [1, 1, 0, 0, 0, 0], [1, 0, 1, 0, 0, 0], "lower", id="covariate"),
    # fifteen patients adjusted like the protocol (two severity indicators and one for age under 65): the
    # patients of the second severity indicator are all at levels 0 to 2, all the others at 2 or 3
    pytest.param([2, 3, 2, 2, 2, 2, 2, 2, 2, 0, 3, 1, 1, 2, 3], [1] * 8 + [0] * 7,
                 [[1, 0, 0], [0, 0, 1], [0, 0, 1], [0, 1, 0], [0, 1, 1], [0, 0, 0], [0, 1, 0], [1, 0, 0],
                  [1, 0, 1], [0, 1, 0], [1, 0, 1], [0, 1, 0], [0, 1, 1], [0, 1, 1], [0, 0, 1]], "lower",
                 id="severity"),
]


@pytest.mark.parametrize(("y", "msc", "covariates", "orientation"), SEPARATED)
@pytest.mark.parametrize("order", ["C", "F"])
def test_po_posterior_refuses_separated_data(y: list[int], msc: list[int], covariates: list[Any] | None,
                                             orientation: Literal["lower", "higher"],
                                             order: Literal["C", "F"]) -> None:
    """No finite estimate, so no grid around it: a clear refusal, whatever the memory layout of the covariates
    (before the check, rounding differences between layouts decided which refits failed)."""
    cov = None if covariates is None else np.array(covariates, dtype=float, order=order)
    with pytest.raises(UserError, match="no finite estimate"):
        proportional_odds_posterior(y, msc, cov, orientation=orientation, important=1.2)


def test_one_patient_less_extreme_breaks_the_separation() -> None:
    """The refusal above is for separation, not for small numbers: one MSC patient at level 2 instead of 0 gives
    the same nine patients a posterior."""
    post = proportional_odds_posterior([0, 1, 1, 2, 1, 1, 2, 1, 1], [1, 1, 1, 1, 0, 0, 0, 0, 0],
                                       orientation="higher", important=1.2)
    assert_proper(post)


@pytest.fixture(scope="module")
def bayes_protocol(tmp_path_factory: pytest.TempPathFactory) -> Protocol:
    """The seed RCT with its primary analysis switched to the Bayesian proportional-odds model."""
    path = tmp_path_factory.mktemp("protocol") / "bayes.yaml"
    shutil.copyfile(PROTOCOL, path)
    text = path.read_text(encoding="utf-8")
    assert "method: proportional-odds" in text
    path.write_text(text.replace("method: proportional-odds", "method: bayesian-proportional-odds"), encoding="utf-8")
    return load_protocol(path)


# An early look of ten patients in which every critical patient has died (WHO 10) and nobody else has: the
# severity effect (a covariate of the primary analysis) has no finite estimate. Before b72d1c7 the protocol
# analysis stopped here with "`y` must contain only finite values".
EARLY_LOOK = pd.DataFrame({
    "arm": ["msc"] * 5 + ["placebo"] * 5,
    "severity": ["mild", "severe", "critical", "mild", "severe", "severe", "critical", "mild", "mild", "severe"],
    "age": [52, 67, 71, 45, 60, 58, 74, 49, 66, 63],
    "who_day28": [2, 4, 10, 1, 5, 6, 10, 3, 2, 4],
})


def test_protocol_analysis_keeps_the_frequentist_result_when_no_posterior(bayes_protocol: Protocol) -> None:
    analysis = run_protocol(bayes_protocol, EARLY_LOOK, which="primary")
    (comp,) = analysis.comparisons
    assert comp.method == "bayesian-proportional-odds"
    # no posterior, said as such in every output
    assert comp.posterior is None
    assert comp.to_dict()["posterior"] is None
    assert "Posterior" not in str(analysis)
    # because the posterior refuses these data (not because of some other error swallowed on the way)
    work = EARLY_LOOK.assign(age65=np.where(EARLY_LOOK["age"] >= 65, "65-and-over", "under-65"))
    outcome = bayes_protocol.outcome("who_day28")
    assert outcome is not None
    expected = analyze_ordinal(work, outcome="who_day28", arm="arm", control="placebo", experimental="msc",
                               covariates=["severity", "age65"], scale=outcome.resolved_scale, better="lower")
    with pytest.raises(UserError, match="no finite estimate"):
        ordinal_posterior(work, expected, arm="arm", covariates=["severity", "age65"], prior_sd=1.0, important=1.2)
    # the frequentist result stands: the same adjusted proportional-odds fit as on its own, with a finite odds
    # ratio and interval for the arm
    result = comp.result.to_dict()
    assert result == expected.to_dict()
    assert all(math.isfinite(result[k]) for k in ("odds_ratio", "ci_low", "ci_high", "p_value"))
    assert result["ci_low"] < result["odds_ratio"] < result["ci_high"]
    assert result["n"] == 10


def test_protocol_analysis_reports_a_posterior_on_a_sparse_look(bayes_protocol: Protocol) -> None:
    """Eleven patients without separation: before b72d1c7 this stopped ("`y` must contain only finite values"),
    b72d1c7 itself dropped the posterior (failed warm-started refits); it is computed."""
    df = pd.DataFrame({
        "arm": ["msc"] * 8 + ["placebo"] * 3,
        "severity": ["mild", "critical", "severe", "mild", "critical", "critical", "critical", "severe", "severe",
                     "severe", "critical"],
        "age": [50, 70, 68, 72, 66, 75, 80, 55, 47, 59, 61],
        "who_day28": [10, 10, 6, 4, 6, 10, 4, 4, 3, 3, 6],
    })
    (comp,) = run_protocol(bayes_protocol, df, which="primary").comparisons
    assert comp.posterior is not None
    assert_proper(comp.posterior)
    assert comp.to_dict()["posterior"]["probability_of_benefit"] == comp.posterior.probability_of_benefit
    # MSC patients did worse here (frequentist OR for a better level below 1), and the posterior leans the same
    # way, pulled towards 1 by the N(0, 1) prior
    assert comp.result.to_dict()["odds_ratio"] < comp.posterior.posterior_median < 1
