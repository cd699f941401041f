"""Speed of group-sequential designs and sample sizes: Equipoise against rpact, measured in the same run.

Each task is computed by rpact (Rscript, timed inside R so R's start-up is excluded) and by Equipoise (timed in
this process); both repeat the task until about a second has passed and report the mean time per task.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from equipoise.design import gsd, sample_size  # noqa: E402
from equipoise.design.boundaries import efficacy_bounds  # noqa: E402
from equipoise.design.spending import Family, cumulative_spending  # noqa: E402

R_SCRIPT = r"""
suppressPackageStartupMessages({library(rpact); library(jsonlite)})
options(warn = -1)
bench <- function(f, budget = 1) {
  f(); n <- 0; start <- proc.time()[["elapsed"]]
  repeat { f(); n <- n + 1; el <- proc.time()[["elapsed"]] - start; if (el > budget && n >= 3) break }
  el / n * 1000
}
res <- list()
for (k in c(3, 5, 10)) {
  res[[sprintf("bounds-%d", k)]] <- bench(function() getDesignGroupSequential(kMax = k, typeOfDesign = "asOF"))
  res[[sprintf("design-%d", k)]] <- bench(function()
    getDesignCharacteristics(getDesignGroupSequential(kMax = k, typeOfDesign = "asOF")))
  res[[sprintf("futility-%d", k)]] <- bench(function()
    getDesignCharacteristics(getDesignGroupSequential(kMax = k, typeOfDesign = "asOF", typeBetaSpending = "bsOF")))
  res[[sprintf("rates-%d", k)]] <- bench(function()
    getSampleSizeRates(getDesignGroupSequential(kMax = k, typeOfDesign = "asOF"), pi1 = 0.23, pi2 = 0.4))
  res[[sprintf("survival-%d", k)]] <- bench(function()
    getSampleSizeSurvival(getDesignGroupSequential(kMax = k, typeOfDesign = "asOF"), hazardRatio = 0.7,
                          median2 = 12, accrualTime = c(0, 12), followUpTime = 12))
}
res[["two-sided-futility-4"]] <- bench(function()
  getDesignCharacteristics(getDesignGroupSequential(kMax = 4, alpha = 0.05, sided = 2, typeOfDesign = "asP",
                                                    typeBetaSpending = "bsP", beta = 0.1)))
cat(toJSON(res, auto_unbox = TRUE, digits = NA))
"""


def _bench(task: Callable[[], Any], budget: float = 1.0) -> float:
    task()
    n = 0
    start = time.perf_counter()
    while True:
        task()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed > budget and n >= 3:
            return elapsed / n * 1000


def _ours() -> dict[str, float]:
    res: dict[str, float] = {}
    for k in (3, 5, 10):
        import numpy as np

        t = np.arange(1, k + 1) / k
        cum = cumulative_spending(Family.OBF, 0.025, t, 1)
        res[f"bounds-{k}"] = _bench(lambda t=t, cum=cum: efficacy_bounds(t, cum, 1))
        res[f"design-{k}"] = _bench(lambda k=k: gsd(looks=k))
        res[f"futility-{k}"] = _bench(lambda k=k: gsd(looks=k, futility_spending="obf"))
        res[f"rates-{k}"] = _bench(lambda k=k: sample_size("binary", design=gsd(looks=k), p_control=0.4,
                                                           p_treatment=0.23))
        res[f"survival-{k}"] = _bench(lambda k=k: sample_size("time-to-event", design=gsd(looks=k), hazard_ratio=0.7,
                                                              median_control=12, accrual=12, follow_up=12))
    res["two-sided-futility-4"] = _bench(lambda: gsd(looks=4, alpha=0.05, sided=2, spending="pocock", beta=0.1,
                                                     futility_spending="pocock"))
    return res


def _rpact() -> dict[str, float] | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as handle:
        handle.write(R_SCRIPT)
        path = handle.name
    try:
        out = subprocess.run(["Rscript", path], capture_output=True, text=True, check=True, timeout=1800)
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"rpact benchmark failed: {exc}", file=sys.stderr)
        return None
    finally:
        Path(path).unlink(missing_ok=True)
    data: dict[str, float] = json.loads(out.stdout)
    return data


LABELS = {
    "bounds": "efficacy bounds only (asOF)",
    "design": "design + characteristics (asOF)",
    "futility": "asOF + bsOF futility, non-binding, with characteristics",
    "rates": "sample size, binary 40% vs 23% (asOF)",
    "survival": "sample size, time-to-event HR 0.7, accrual 12 + follow-up 12 (asOF)",
    "two-sided-futility": "two-sided Pocock + bsP futility",
}


def run() -> str:
    ours = _ours()
    theirs = _rpact()
    lines = ["## Design: group-sequential boundaries and sample sizes vs rpact", ""]
    if theirs is None:
        lines.append("rpact (Rscript) is not available here; Equipoise timings only.")
    lines += ["| task | looks | rpact (ms) | Equipoise (ms) | speed-up |", "|---|---|---|---|---|"]
    for key, value in ours.items():
        name, _, looks = key.rpartition("-")
        r = None if theirs is None else theirs.get(key)
        ratio = "" if r is None else f"{r / value:.1f}x"
        rpact_ms = "" if r is None else f"{r:.2f}"
        lines.append(f"| {LABELS.get(name, name)} | {looks} | {rpact_ms} | {value:.2f} | {ratio} |")
    lines += ["", "Speed-up = rpact time / Equipoise time (above 1: Equipoise is faster). rpact "
              f"{'3.3.4' if theirs is not None else '(not run)'}; one process each, same machine, same run. "
              "Equipoise's design includes the characteristics (drift, inflation factor, stopping probabilities, "
              "expected sample sizes) in every task except 'bounds only'.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
