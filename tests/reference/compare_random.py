"""Compare Equipoise with rpact on random designs and sample sizes that are not in the fixture grid.

    .venv/bin/python tests/reference/compare_random.py [--n 200] [--seed 1] [--cache rpact.json]

Needs R with rpact and mvtnorm (not part of the test suite, which reads committed fixtures). Draws random
group-sequential designs (family, looks, information rates, alpha, sidedness, beta-spending futility, binding)
and sample-size problems (binary, continuous, time-to-event, allocation ratios), computes them with rpact in one
R session and with Equipoise, and prints the largest differences: z bounds (absolute) and sizes (relative).

Where the efficacy bounds differ by more than 1e-6, an arbiter independent of both programs' quadrature decides:
mvtnorm's Genz-Bretz algorithm (absolute error 1e-10) computes the type I error each set of bounds spends at
each look under H0, to compare with the spending function (or, for the constant designs, the total alpha).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from equipoise.design import gsd, sample_size  # noqa: E402

R_CODE = r"""
suppressPackageStartupMessages({library(rpact); library(jsonlite)})
options(warn = -1)
cases <- fromJSON(commandArgs(TRUE)[1], simplifyVector = FALSE)
at <- c(obf = "asOF", pocock = "asP", hsd = "asHSD", kd = "asKD", "of-constant" = "OF", "pocock-constant" = "P")
bt <- c(obf = "bsOF", pocock = "bsP", hsd = "bsHSD", kd = "bsKD")
design <- function(a) {
  args <- list(kMax = length(a$information_rates), alpha = a$alpha, sided = a$sided,
               typeOfDesign = unname(at[a$spending]), beta = a$beta,
               informationRates = unlist(a$information_rates))
  if (a$spending == "hsd") args$gammaA <- a$gamma
  if (a$spending == "kd") args$gammaA <- a$rho
  if (!is.null(a$futility_spending)) {
    args$typeBetaSpending <- unname(bt[a$futility_spending])
    if (a$futility_spending == "hsd") args$gammaB <- a$futility_gamma
    if (a$futility_spending == "kd") args$gammaB <- a$futility_rho
    args$bindingFutility <- isTRUE(a$binding)
  }
  do.call(getDesignGroupSequential, args)
}
out <- lapply(cases, function(case) tryCatch({
  d <- design(case$design)
  ch <- getDesignCharacteristics(d)
  res <- list(upper = as.numeric(d$criticalValues), futility = as.numeric(d$futilityBounds),
              inflation_factor = ch$inflationFactor)
  p <- case$params
  if (case$outcome == "binary") {
    s <- getSampleSizeRates(d, pi1 = p$p_treatment, pi2 = p$p_control, allocationRatioPlanned = p$ratio)
    res$n_total <- s$maxNumberOfSubjects
  } else if (case$outcome == "continuous") {
    s <- getSampleSizeMeans(d, alternative = p$delta, stDev = p$sd, allocationRatioPlanned = p$ratio,
                            normalApproximation = isTRUE(p$sd_known))
    res$n_total <- s$maxNumberOfSubjects
  } else {
    s <- getSampleSizeSurvival(d, hazardRatio = p$hazard_ratio, median2 = p$median_control,
                               accrualTime = c(0, p$accrual), followUpTime = p$follow_up,
                               allocationRatioPlanned = p$ratio, dropoutRate1 = p$dropout,
                               dropoutRate2 = p$dropout, dropoutTime = 12)
    res$n_total <- s$maxNumberOfSubjects
    res$events <- s$eventsPerStage[length(s$eventsPerStage)]
  }
  res
}, error = function(e) list(error = conditionMessage(e))))
cat(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null"))
"""

ARBITER = r"""
suppressPackageStartupMessages({library(mvtnorm); library(jsonlite)})
cases <- fromJSON(commandArgs(TRUE)[1], simplifyVector = FALSE)
set.seed(1)
err <- 0
spent <- function(t, b, sided) {
  k <- length(t); R <- outer(t, t, function(a, c) sqrt(pmin(a, c) / pmax(a, c)))
  cont <- function(j) if (j == 0) 1 else {
    lo <- if (sided == 2) -b[1:j] else rep(-Inf, j)
    if (j == 1) return(pnorm(b[1]) - pnorm(lo[1]))
    alg <- if (j <= 3 && sided == 1) TVPACK(abseps = 1e-14) else GenzBretz(maxpts = 2e6, abseps = 1e-10)
    if (j <= 3 && sided == 1) lo <- rep(-Inf, j)
    v <- pmvnorm(lower = lo, upper = b[1:j], corr = R[1:j, 1:j, drop = FALSE], algorithm = alg)
    e <- attr(v, "error"); if (!is.null(e) && is.finite(e)) err <<- max(err, e)
    v[1]
  }
  p <- sapply(0:k, cont)
  -diff(p)
}
out <- lapply(cases, function(c) {
  err <<- 0
  r <- spent(unlist(c$t), pmin(unlist(c$rpact), 8), c$sided)
  e <- spent(unlist(c$t), pmin(unlist(c$equipoise), 8), c$sided)
  list(rpact = r, equipoise = e, arbiter_error = err)
})
cat(toJSON(out, digits = NA))
"""


def random_case(rng: np.random.Generator) -> dict[str, Any]:
    k = int(rng.integers(1, 11))
    if rng.random() < 0.5:
        rates = list(np.arange(1, k + 1) / k)
    else:
        rates = [*sorted(rng.uniform(0.1, 0.95, k - 1).round(3).tolist()), 1.0]
        if len(set(rates)) < k:
            rates = list(np.arange(1, k + 1) / k)
    sided = int(rng.choice([1, 2]))
    family = str(rng.choice(["obf", "pocock", "hsd", "kd", "of-constant", "pocock-constant"]))
    design: dict[str, Any] = {
        "information_rates": [float(x) for x in rates], "sided": sided,
        "alpha": float(rng.choice([0.01, 0.025, 0.05]) * (2 if sided == 2 else 1)),
        "spending": family, "beta": float(rng.choice([0.1, 0.15, 0.2])),
    }
    if family == "hsd":
        design["gamma"] = float(rng.choice([-4, -2, -1, 0.5, 1]))
    if family == "kd":
        design["rho"] = float(rng.choice([1, 1.5, 2, 3]))
    if k >= 2 and family in {"obf", "pocock", "hsd", "kd"} and rng.random() < 0.4:
        fut = str(rng.choice(["obf", "pocock", "hsd", "kd"]))
        design["futility_spending"] = fut
        if fut == "hsd":
            design["futility_gamma"] = float(rng.choice([-4, -2, 1]))
        if fut == "kd":
            design["futility_rho"] = float(rng.choice([1.5, 2, 3]))
        design["binding"] = bool(rng.random() < 0.5)
    outcome = str(rng.choice(["binary", "continuous", "time-to-event"]))
    ratio = float(rng.choice([0.5, 1, 1, 2, 3]))
    if outcome == "binary":
        pc = round(float(rng.uniform(0.1, 0.6)), 2)
        pt = round(float(np.clip(pc + rng.choice([-1, 1]) * rng.uniform(0.05, 0.2), 0.03, 0.95)), 2)
        params: dict[str, Any] = {"p_control": pc, "p_treatment": pt, "ratio": ratio}
    elif outcome == "continuous":
        params = {"delta": round(float(rng.uniform(0.2, 0.8)), 2), "sd": float(rng.choice([1, 2, 5])),
                  "ratio": ratio, "sd_known": bool(rng.random() < 0.5)}
    else:
        params = {"hazard_ratio": float(rng.choice([0.6, 0.7, 0.75, 0.8, 1.3])),
                  "median_control": float(rng.choice([6, 12, 24])), "accrual": float(rng.choice([6, 12, 24])),
                  "follow_up": float(rng.choice([6, 12])), "ratio": ratio,
                  "dropout": float(rng.choice([0, 0.05, 0.1]))}
    return {"design": design, "outcome": outcome, "params": params}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=None, help="Reuse rpact's results from this file.")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    cases = [random_case(rng) for _ in range(args.n)]
    if args.cache is not None and args.cache.exists():
        theirs = json.loads(args.cache.read_text())
    else:
        theirs = _rpact(cases)
        if args.cache is not None:
            args.cache.write_text(json.dumps(theirs))
    _compare(cases, theirs)


def _rpact(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cases.json"
        path.write_text(json.dumps(cases))
        script = Path(tmp) / "run.R"
        script.write_text(R_CODE)
        out = subprocess.run(["Rscript", str(script), str(path)], capture_output=True, text=True, check=True)
    result: list[dict[str, Any]] = json.loads(out.stdout)
    return result


def _compare(cases: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> None:
    worst_z, worst_n, skipped, failures = 0.0, 0.0, 0, []
    for case, ref in zip(cases, theirs, strict=True):
        if "error" in ref:
            skipped += 1
            continue
        d = gsd(**case["design"])
        up = np.atleast_1d(np.asarray(ref["upper"], dtype=float))
        finite = up < 7.5
        dz = float(np.max(np.abs(d.upper[finite] - up[finite]), initial=0.0))
        if case["design"].get("futility_spending"):
            fut = np.atleast_1d(np.asarray(ref["futility"], dtype=float))
            assert d.futility is not None
            ours = d.futility[:-1]
            if d.sided == 2:
                fut = np.where(np.isnan(fut), 0.0, fut)
            dz = max(dz, float(np.max(np.abs(ours - fut))))
        params = dict(case["params"])
        ratio = params.pop("ratio")
        n = sample_size(case["outcome"], design=d, ratio=ratio, **params)
        dn = abs(float(n.n_total) / float(ref["n_total"]) - 1) if n.n_total is not None else 0.0
        worst_z, worst_n = max(worst_z, dz), max(worst_n, dn)
        if dz > 1e-6 or dn > 1e-4:
            failures.append((dz, dn, case))
    print(f"{len(cases) - skipped} cases compared ({skipped} rejected by rpact); worst |dz| {worst_z:.2e}, "
          f"worst relative dn {worst_n:.2e}; {len(failures)} beyond 1e-6 (z) / 1e-4 (n)")
    for dz, dn, case in sorted(failures, key=lambda f: -f[0])[:20]:
        print(f"  dz {dz:.2e} dn {dn:.2e} {json.dumps(case)}")
    _arbitrate([(case, ref) for (_, _, case), ref in
                ((f, theirs[cases.index(f[2])]) for f in failures)])


def _arbitrate(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Type I error spent per look by each program's efficacy bounds (mvtnorm, independent of both)."""
    todo = [(case, ref) for case, ref in pairs if not case["design"].get("binding")]
    if not todo:
        return
    payload = []
    for case, ref in todo:
        d = gsd(**case["design"])
        payload.append({"t": list(d.information_rates), "sided": d.sided,
                        "rpact": list(np.nan_to_num(np.atleast_1d(np.asarray(ref["upper"], dtype=float)),
                                                    nan=8.0, posinf=8.0)),
                        "equipoise": list(d.upper)})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bounds.json"
        path.write_text(json.dumps(payload))
        script = Path(tmp) / "arbiter.R"
        script.write_text(ARBITER)
        out = subprocess.run(["Rscript", str(script), str(path)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print(f"arbiter failed: {out.stderr.strip()[-500:]}")
        return
    verdicts = json.loads(out.stdout)
    print("Arbiter (mvtnorm: TVPACK up to 3 looks, Genz-Bretz beyond, with its own error estimate): largest "
          "|alpha spent - planned| over the looks")
    for (case, _), verdict in zip(todo, verdicts, strict=True):
        d = gsd(**case["design"])
        planned = d.alpha_spent if d.spending not in ("of-constant", "pocock-constant") else None
        r = np.asarray(verdict["rpact"], dtype=float)
        e = np.asarray(verdict["equipoise"], dtype=float)
        if planned is None:  # constant designs: only the total is specified
            err_r, err_e = abs(r.sum() - d.alpha), abs(e.sum() - d.alpha)
        else:
            err_r, err_e = float(np.max(np.abs(r - planned))), float(np.max(np.abs(e - planned)))
        arbiter = float(np.max(verdict["arbiter_error"]))
        print(f"  rpact {err_r:.1e}  equipoise {err_e:.1e}  (arbiter error {arbiter:.0e})  "
              f"{d.spending} K={d.looks} sided={d.sided} t={np.round(d.information_rates, 3).tolist()}")


if __name__ == "__main__":
    main()
