"""The estimators on a DataFrame with a column mapping: validate, drop missing outcomes, fit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from equipoise.analyze.bayes import Posterior, normal_posterior, proportional_odds_posterior
from equipoise.analyze.binary import BinaryResult, Interval, compare_binary
from equipoise.analyze.continuous import ContinuousResult, compare_means
from equipoise.analyze.data import (
    binary_column,
    covariate_design,
    numeric_column,
    resolve_arms,
    status_column,
    strata_keys,
)
from equipoise.analyze.ordinal import OrdinalResult, compare_ordinal
from equipoise.analyze.survival import SurvivalResult, compare_survival
from equipoise.errors import UserError
from equipoise.protocol import OrdinalScale


def _two_arms(df: pd.DataFrame, arm: str, control: str, experimental: str | None, what: str
              ) -> tuple[pd.DataFrame, str]:
    pair = resolve_arms(df, arm, control, experimental, what)
    keep = df[arm].astype(str).isin([pair.experimental, pair.control]).to_numpy()
    return df.loc[keep].reset_index(drop=True) if not keep.all() else df, pair.experimental


def _complete(df: pd.DataFrame, y: np.ndarray, covariates: Sequence[str], what: str,
              extra: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    keep = ~np.isnan(y)
    if extra is not None:
        keep &= ~np.isnan(extra)
    if covariates:
        keep &= ~covariate_design(df, covariates, what).missing
    return keep, int((~keep).sum())


def analyze_binary(df: pd.DataFrame, *, outcome: str, arm: str, control: str, experimental: str | None = None,
                   strata: Sequence[str] = (), covariates: Sequence[str] = (), interval: Interval = "newcombe",
                   better: str | None = None, conf_level: float = 0.95, what: str = "data") -> BinaryResult:
    # validate the whole column first so a bad value in a third arm is still refused
    binary_column(df, outcome, what)
    sub, exp_arm = _two_arms(df, arm, control, experimental, what)
    y = binary_column(sub, outcome, what)
    keep, n_missing = _complete(sub, y, covariates, what)
    sub_all = sub
    sub = sub.loc[keep].reset_index(drop=True)
    y = y[keep]
    _need_both_arms(sub, arm, exp_arm, control, outcome, what)
    strata_arr = strata_keys(sub, strata, what) if strata else None
    cov = covariate_design(sub, covariates, what) if covariates else None
    dropped = sub_all[arm].astype(str).to_numpy()[~keep]
    by_arm = {name: int((dropped == name).sum()) for name in (exp_arm, control)}
    result = compare_binary(y, sub[arm].astype(str).to_numpy(), experimental=exp_arm, control=control,
                          outcome=outcome, strata=strata_arr, strata_names=tuple(strata),
                          covariates=cov.matrix if cov else None, covariate_names=cov.names if cov else (),
                          interval=interval, conf_level=conf_level, better=better, n_missing=n_missing)
    reason = "a missing outcome or covariate" if covariates else "a missing outcome"
    return replace(result, missing_by_arm=by_arm, missing_reason=reason)


def analyze_ordinal(df: pd.DataFrame, *, outcome: str, arm: str, control: str, experimental: str | None = None,
                    covariates: Sequence[str] = (), scale: OrdinalScale | None = None, better: str | None = None,
                    conf_level: float = 0.95, what: str = "data", refuse_not_estimable: bool = True
                    ) -> OrdinalResult:
    """The proportional-odds comparison of two arms. A common odds ratio that the data cannot identify (the arms
    do not overlap, so the likelihood keeps rising as the ratio goes to 0 or infinity, or too few patients to
    estimate its standard error) is a UserError with the reason; with ``refuse_not_estimable=False`` (the
    protocol's analyses and the reports, which go on with their other results) the result is returned as fitted.

    References: Albert & Anderson (1984), Biometrika 71(1):1-10, on the non-existence of maximum likelihood
    estimates under complete separation."""
    allowed = scale.values if scale is not None else None
    numeric_column(df, outcome, what, integer=True, allowed=allowed, scale_name=scale.name if scale else None)
    sub, exp_arm = _two_arms(df, arm, control, experimental, what)
    y = numeric_column(sub, outcome, what, integer=True, allowed=allowed)
    keep, n_missing = _complete(sub, y, covariates, what)
    sub = sub.loc[keep].reset_index(drop=True)
    y = y[keep]
    _need_both_arms(sub, arm, exp_arm, control, outcome, what)
    if len(np.unique(y)) < 2:
        raise UserError(f"{what}: column {outcome!r} has a single observed level; there is nothing to compare")
    cov = covariate_design(sub, covariates, what) if covariates else None
    arms = sub[arm].astype(str).to_numpy()
    result = compare_ordinal(y, arms, experimental=exp_arm, control=control,
                             outcome=outcome, covariates=cov.matrix if cov else None,
                             covariate_names=cov.names if cov else (), better=better, conf_level=conf_level,
                             n_missing=n_missing)
    if refuse_not_estimable and not (math.isfinite(result.log_odds_ratio) and math.isfinite(result.se)
                                     and abs(result.log_odds_ratio) <= MAX_IDENTIFIABLE_LOG_RATIO):
        y_exp, y_ctl = y[arms == exp_arm], y[arms == control]
        if y_exp.max() <= y_ctl.min() or y_ctl.max() <= y_exp.min():
            why = (f"the arms do not overlap (every {exp_arm} patient is at or on one side of every {control} "
                   "patient: complete separation), so the estimate runs off to 0 or infinity")
        else:
            why = f"{len(y)} patients are too few to estimate it and its standard error"
        raise UserError(f"{what}: the common odds ratio of {outcome!r} cannot be estimated: {why}")
    return result


# exp(20) is an odds ratio of about 5e8: only a fit running off to infinity reports more
MAX_IDENTIFIABLE_LOG_RATIO = 20.0


def analyze_survival(df: pd.DataFrame, *, time: str, event: str, arm: str, control: str,
                     experimental: str | None = None, covariates: Sequence[str] = (), strata: Sequence[str] = (),
                     better: str | None = None, competing: bool = False, conf_level: float = 0.95,
                     horizon: float | None = None, outcome: str | None = None, what: str = "data",
                     refuse_not_estimable: bool = True) -> SurvivalResult:
    numeric_column(df, time, what, minimum=0)
    status_column(df, event, what, competing)
    sub, exp_arm = _two_arms(df, arm, control, experimental, what)
    t = numeric_column(sub, time, what, minimum=0)
    st = status_column(sub, event, what, competing)
    keep, _ = _complete(sub, t, covariates, what, st)
    sub = sub.loc[keep].reset_index(drop=True)
    t, st = t[keep], st[keep]
    _need_both_arms(sub, arm, exp_arm, control, time, what)
    if not (st == 1).any():
        raise UserError(f"{what}: column {event!r} has no events (1); a hazard ratio cannot be estimated")
    cov = covariate_design(sub, covariates, what) if covariates else None
    skeys = strata_keys(sub, strata, what) if strata else None
    return compare_survival(t, st, sub[arm].astype(str).to_numpy(), experimental=exp_arm, control=control,
                            outcome=outcome or time, covariates=cov.matrix if cov else None,
                            covariate_names=cov.names if cov else (), strata=skeys, strata_names=tuple(strata),
                            better=better, conf_level=conf_level, horizon=horizon,
                            refuse_not_estimable=refuse_not_estimable)


def analyze_continuous(df: pd.DataFrame, *, outcome: str, arm: str, control: str, experimental: str | None = None,
                       covariates: Sequence[str] = (), better: str | None = None, conf_level: float = 0.95,
                       what: str = "data") -> ContinuousResult:
    numeric_column(df, outcome, what)
    sub, exp_arm = _two_arms(df, arm, control, experimental, what)
    y = numeric_column(sub, outcome, what)
    keep, _ = _complete(sub, y, covariates, what)
    sub = sub.loc[keep].reset_index(drop=True)
    _need_both_arms(sub, arm, exp_arm, control, outcome, what, minimum=2)
    arms = sub[arm].astype(str).to_numpy()
    if all(np.ptp(y[keep][arms == a]) == 0 for a in (exp_arm, control)):
        raise UserError(f"{what}: column {outcome!r} does not vary within either arm; a difference in means has no "
                        "standard error")
    cov = covariate_design(sub, covariates, what) if covariates else None
    return compare_means(y[keep], sub[arm].astype(str).to_numpy(), experimental=exp_arm, control=control,
                         outcome=outcome, covariates=cov.matrix if cov else None,
                         covariate_names=cov.names if cov else (), better=better, conf_level=conf_level)


def _need_both_arms(df: pd.DataFrame, arm: str, experimental: str, control: str, outcome: str, what: str,
                    minimum: int = 1) -> None:
    counts = df[arm].astype(str).value_counts()
    for a in (experimental, control):
        if counts.get(a, 0) < minimum:
            raise UserError(f"{what}: arm {a!r} has fewer than {minimum} patient(s) with {outcome!r} recorded")


def ordinal_posterior(df: pd.DataFrame, result: OrdinalResult, *, arm: str, covariates: Sequence[str] = (),
                      prior_sd: float = 1.0, important: float | None = None, method: str = "laplace",
                      what: str = "data") -> Posterior:
    """Posterior of the common odds ratio of ``result`` (same patients, same covariates) under a N(0, prior_sd²)
    prior on its log: ``laplace`` integrates the proportional-odds likelihood, ``normal`` uses (estimate, SE)."""
    if method == "normal":
        return normal_posterior(result.log_odds_ratio, result.se, measure="odds_ratio", benefit="above",
                                prior_sd=prior_sd, important=important)
    if method != "laplace":
        raise UserError(f"--posterior-method: {method!r} must be laplace or normal")
    sub = df[df[arm].astype(str).isin([result.experimental, result.control])].reset_index(drop=True)
    y = numeric_column(sub, result.outcome, what)
    keep, _ = _complete(sub, y, covariates, what)
    sub = sub.loc[keep].reset_index(drop=True)
    y = y[keep]
    cov = covariate_design(sub, covariates, what).matrix if covariates else None
    return proportional_odds_posterior(np.searchsorted(np.unique(y), y),
                                       (sub[arm].astype(str) == result.experimental).to_numpy(float), cov,
                                       orientation="lower" if result.orientation == "lower" else "higher",
                                       prior_sd=prior_sd, important=important)
