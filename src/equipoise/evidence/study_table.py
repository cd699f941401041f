"""The trial-level input of a meta-analysis: one row per trial, binary, continuous or generic, and the fit of
one model to it (the dispatch from measure and method to the pooling functions).

References
----------
Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat Softw 36(3):1-48
(``escalc``, ``rma.uni``, ``rma.mh``, ``rma.peto``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from equipoise.errors import UserError
from equipoise.evidence.effect_sizes import (
    EffectSizes,
    Measure,
    ZeroCellRule,
    binary_effect_sizes,
    continuous_effect_sizes,
    generic_effect_sizes,
)
from equipoise.evidence.inverse_variance import fit_inverse_variance
from equipoise.evidence.mantel_haenszel import mantel_haenszel, peto
from equipoise.evidence.pooled import Method, Pooled

FloatArray = NDArray[np.float64]


class DataKind(StrEnum):
    BINARY = "binary"
    CONTINUOUS = "continuous"
    GENERIC = "generic"


BINARY_COLUMNS = ("events_treatment", "n_treatment", "events_control", "n_control")
CONTINUOUS_COLUMNS = ("n_treatment", "mean_treatment", "sd_treatment", "n_control", "mean_control", "sd_control")
GENERIC_COLUMNS = ("estimate", "se")


@dataclass(frozen=True)
class StudyTable:
    """Trials in file order; ``values`` holds the data columns of ``kind`` (see the *_COLUMNS names)."""

    kind: DataKind
    studies: tuple[str, ...]
    values: dict[str, FloatArray]
    years: tuple[float | None, ...] | None = None
    subgroups: tuple[str, ...] | None = None

    @property
    def k(self) -> int:
        return len(self.studies)

    def subset(self, index: NDArray[np.int64] | list[int]) -> StudyTable:
        idx = np.asarray(index, dtype=int)
        return StudyTable(
            self.kind, tuple(self.studies[i] for i in idx), {c: a[idx] for c, a in self.values.items()},
            None if self.years is None else tuple(self.years[i] for i in idx),
            None if self.subgroups is None else tuple(self.subgroups[i] for i in idx))

    def complete(self) -> StudyTable:
        """The trials with every data value present (metafor leaves the others out, ``na.omit``)."""
        ok = np.all(np.column_stack([np.isfinite(a) for a in self.values.values()]), axis=1)
        return self if ok.all() else self.subset(np.flatnonzero(ok))

    def incomplete_studies(self) -> tuple[str, ...]:
        ok = np.all(np.column_stack([np.isfinite(a) for a in self.values.values()]), axis=1)
        return tuple(s for s, good in zip(self.studies, ok, strict=True) if not good)

    def cumulative_order(self) -> list[int]:
        """By year when the file has years (ties and missing years keep file order), else file order."""
        if self.years is None:
            return list(range(self.k))
        inf = float("inf")
        return sorted(range(self.k), key=lambda i: (inf if self.years is None or self.years[i] is None
                                                    else self.years[i], i))

    def effect_sizes(self, measure: Measure, rule: ZeroCellRule | None = None) -> EffectSizes:
        v, names = self.values, list(self.studies)
        if self.kind is DataKind.BINARY:
            return binary_effect_sizes(names, v["events_treatment"], v["n_treatment"], v["events_control"],
                                       v["n_control"], measure, rule)
        if self.kind is DataKind.CONTINUOUS:
            return continuous_effect_sizes(names, v["n_treatment"], v["mean_treatment"], v["sd_treatment"],
                                           v["n_control"], v["mean_control"], v["sd_control"], measure)
        return generic_effect_sizes(names, v["estimate"], v["se"], measure)


def check_measure(kind: DataKind, measure: Measure) -> None:
    ok = {DataKind.BINARY: (Measure.RR, Measure.OR, Measure.RD),
          DataKind.CONTINUOUS: (Measure.MD, Measure.SMD),
          DataKind.GENERIC: tuple(Measure)}[kind]
    if measure not in ok:
        raise UserError(f"--measure {measure.value} does not fit {kind.value} data; use one of "
                        f"{', '.join(m.value for m in ok)}")


def fit_model(table: StudyTable, measure: Measure, method: Method, hksj: bool = False,
              rule: ZeroCellRule | None = None, tau2_ci: bool = True) -> Pooled:
    """One pooled model for ``table``: MH and Peto on the 2x2 tables, the rest by inverse variance."""
    check_measure(table.kind, measure)
    table = table.complete()
    if method in (Method.MH, Method.PETO):
        if table.kind is not DataKind.BINARY:
            raise UserError(f"--method {method.value} needs 2x2 counts (events and group sizes)")
        if hksj:
            raise UserError(f"--hksj applies to random-effects models, not to --method {method.value}")
        v = table.values
        args = (list(table.studies), v["events_treatment"], v["n_treatment"], v["events_control"], v["n_control"])
        if method is Method.PETO:
            if measure is not Measure.OR:
                raise UserError("Peto's method estimates an odds ratio: use --measure OR")
            return peto(*args, rule=rule)
        return mantel_haenszel(*args, measure, rule=rule)
    return fit_inverse_variance(table.effect_sizes(measure, rule), method, hksj, tau2_ci=tau2_ci)
