"""Single-arm studies on virtual patients: how often would the press release come true if the therapy did nothing?

The 2020 Beijing MSC report (31 patients: 16 mild, 8 severe, 7 critical) said every patient improved. This
module runs such a study many times on patients whose disease follows the calibrated natural history
(``natural_history/covid19.yaml``) with no treatment effect (or a given one) and reports the probability of
each claim such a report makes: all improved, all improved on CT, no deaths, at least k discharged, ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from equipoise.errors import UserError
from equipoise.figures.single_arm import single_arm_plot
from equipoise.protocol import OutcomeType, Protocol
from equipoise.simulate.engine import ProgressHook, Records, rng_for, run_chunks
from equipoise.simulate.natural_history.model import NaturalHistory
from equipoise.simulate.natural_history.outcomes import Paths


@dataclass(frozen=True)
class SingleArmDesign:
    """Who is enrolled (patients per baseline severity) and on which days the claims are judged."""

    composition: dict[str, int]
    claim_day: int = 14
    horizon: int = 28
    name: str = "single-arm study"

    @property
    def n_patients(self) -> int:
        return sum(self.composition.values())

    def __post_init__(self) -> None:
        if not self.composition or any(n < 0 for n in self.composition.values()) or self.n_patients == 0:
            raise UserError("a single-arm design needs a positive number of patients per severity class")
        if not 0 < self.claim_day <= self.horizon:
            raise UserError(f"the claim day ({self.claim_day}) must be between 1 and the horizon ({self.horizon})")


def single_arm_design_from_protocol(protocol: Protocol, natural_history: NaturalHistory) -> SingleArmDesign:
    """The design of a protocol with one arm: ``enrolment.target.composition`` gives patients per severity."""
    if protocol.is_controlled:
        raise UserError(f"{protocol.trial.id} has {len(protocol.arms)} arms; use `equipoise simulate protocol`")
    target = protocol.enrolment.target
    if target is None:
        raise UserError(f"{protocol.trial.id}: enrolment.target is needed to simulate a single-arm study")
    composition = dict(target.composition) if target.composition else {"severe": target.total}
    unknown = sorted(set(composition) - set(natural_history.severities))
    if unknown:
        raise UserError(f"enrolment.target.composition: {', '.join(unknown)} is not a baseline severity of the "
                        f"natural history {natural_history.name} ({', '.join(natural_history.severities)})")
    days = [o.day for o in protocol.outcomes if o.type is not OutcomeType.CONTINUOUS]
    horizon = max([*days, natural_history.days])
    primary = protocol.analysis.primary.outcome if protocol.analysis else protocol.outcomes[0].id
    claim_day = next((o.day for o in protocol.outcomes if o.id == primary), min(days or [14]))
    return SingleArmDesign(composition, claim_day=claim_day, horizon=horizon, name=protocol.trial.id)


@dataclass(frozen=True)
class _SingleArmTask:
    design: SingleArmDesign
    model: NaturalHistory
    odds_ratio: float
    harm: float

    def __call__(self, n: int, seed: np.random.SeedSequence) -> Records:
        rng = rng_for(seed)
        d, m = self.design, self.model
        classes = list(d.composition)
        counts = [d.composition[c] for c in classes]
        per_trial = d.n_patients
        cls = np.repeat(np.arange(len(classes)), counts)  # patient -> class, same in every trial
        start = np.empty((n, per_trial), dtype=np.int64)
        age_shift = np.empty((n, per_trial))
        for i, c in enumerate(classes):
            pop = m.population(severity=c)
            cols = cls == i
            levels = np.array(list(pop.start))
            start[:, cols] = rng.choice(levels, size=(n, int(cols.sum())), p=np.array(list(pop.start.values())))
            groups = list(pop.age)
            shifts = np.array([m.age_shift[g] for g in groups]) + pop.setting_shift
            pick = rng.choice(len(groups), size=(n, int(cols.sum())), p=np.array(list(pop.age.values())))
            age_shift[:, cols] = shifts[pick]
        levels = m.simulate_paths(start.ravel(), age_shift.ravel(), rng, np.log(self.odds_ratio), self.harm,
                                  days=d.horizon).reshape(n, per_trial, d.horizon + 1)
        paths = Paths(levels, m.ct_lag_days)
        out: Records = {
            "improved": paths.improved_at(d.claim_day).sum(axis=1),
            "improved_end": paths.improved_at(d.horizon).sum(axis=1),
            "ct_improved": paths.ct_improved_at(d.claim_day).sum(axis=1),
            "deaths": paths.dead_by(d.horizon).sum(axis=1),
            "discharged": paths.discharged_by(d.horizon).sum(axis=1),
            "discharged_claim_day": paths.discharged_by(d.claim_day).sum(axis=1),
        }
        for i, c in enumerate(classes):
            cols = cls == i
            out[f"improved:{c}"] = paths.improved_at(d.claim_day)[:, cols].sum(axis=1)
            out[f"deaths:{c}"] = paths.dead_by(d.horizon)[:, cols].sum(axis=1)
            out[f"discharged:{c}"] = paths.discharged_by(d.horizon)[:, cols].sum(axis=1)
        return out


@dataclass(frozen=True)
class Claim:
    key: str
    text: str
    probability: float
    mc_se: float

    upper_95: float

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "claim": self.text, "probability": self.probability, "mc_se": self.mc_se,
                "upper_95": self.upper_95}


def _claim(key: str, text: str, hits: np.ndarray) -> Claim:
    """The claim's probability with its Monte Carlo SE and a one-sided 95% upper bound (Clopper-Pearson;
    3 / n when it never happened, the rule of three)."""
    from scipy.stats import beta

    n, k = len(hits), int(np.sum(hits))
    p = k / n
    upper = 1.0 if k == n else float(beta.ppf(0.95, k + 1, n - k))
    return Claim(key, text, p, float(np.sqrt(p * (1 - p) / n)), upper)


@dataclass(frozen=True)
class SingleArmResult:
    """Probabilities of a single-arm study's claims on virtual patients (under no effect unless stated)."""

    design: SingleArmDesign
    natural_history: str
    odds_ratio: float
    harm: float
    n_trials: int
    seed: int | None
    claims: list[Claim]
    expected: dict[str, float]
    at_least_k_discharged: dict[int, float] = field(default_factory=dict)
    improved_distribution: dict[int, float] = field(default_factory=dict)

    def claim(self, key: str) -> Claim:
        return next(c for c in self.claims if c.key == key)

    def to_dict(self) -> dict[str, Any]:
        d = self.design
        out: dict[str, Any] = {
            "design": "single-arm", "name": d.name, "n_patients": d.n_patients, "composition": d.composition,
            "claim_day": d.claim_day, "horizon_days": d.horizon, "natural_history": self.natural_history,
            "effect": {"odds_ratio": self.odds_ratio, "harm_death_odds_ratio": self.harm},
            "n_trials": self.n_trials, "seed": self.seed,
        }
        for c in self.claims:
            out[f"probability_{c.key}"] = c.probability
        out["mc_se"] = {c.key: c.mc_se for c in self.claims}
        out["claims"] = [c.to_dict() for c in self.claims]
        out["expected"] = self.expected
        out["probability_at_least_k_discharged"] = {str(k): v for k, v in self.at_least_k_discharged.items()}
        out["improved_distribution"] = {str(k): v for k, v in self.improved_distribution.items()}
        return out

    def plot(self) -> Any:
        """How many of the patients improve in studies of an inactive therapy, with the claim 'all improved'."""
        return single_arm_plot(self)

    def __str__(self) -> str:
        d = self.design
        mix = ", ".join(f"{n} {c}" for c, n in d.composition.items())
        effect = ("with NO treatment effect" if self.odds_ratio == 1 and self.harm == 1
                  else f"with a treatment odds ratio of {self.odds_ratio:g}"
                  + (f" and a harm odds ratio on death of {self.harm:g}" if self.harm != 1 else ""))
        lines = [
            f"{d.name}: a single-arm study of {d.n_patients} patients ({mix}), simulated {self.n_trials:,} times",
            f"on virtual patients whose disease follows the natural history '{self.natural_history}' {effect}.",
            "",
            f"Expected in one such study: {self.expected['improved']:.1f} of {d.n_patients} improved by day "
            f"{d.claim_day}, {self.expected['discharged']:.1f} discharged and {self.expected['deaths']:.1f} dead by "
            f"day {d.horizon}.",
            "",
            "How often each claim of a report would come true:",
        ]
        width = max(len(c.text) for c in self.claims)
        for c in self.claims:
            if c.probability == 0:
                shown = f"never in {self.n_trials:,} studies (< {100 * c.upper_95:.2g}%)"
            else:
                shown = f"{100 * c.probability:6.2f}%  (± {100 * c.mc_se:.2f})"
            lines.append(f"  {c.text:<{width}}  {shown}")
        lines += ["", _meaning(self)]
        return "\n".join(lines)


def _meaning(r: SingleArmResult) -> str:
    all_improved = r.claim("all_improved").probability
    typical = r.expected["improved"] / r.design.n_patients
    if r.odds_ratio != 1 or r.harm != 1:
        # the figures above are WITH the effect; what no effect gives is the claim check's comparison
        return (f"What it means: with this effect, {100 * typical:.0f}% of such patients improve by day "
                f"{r.design.claim_day} and 'all {r.design.n_patients} improved' happens in {100 * all_improved:.2f}% "
                "of studies. Set it against the same study with no effect (`equipoise simulate single-arm` "
                "compares them side by side): a single-arm study tells a real effect from the natural course only "
                "when the two differ by more than the study's own chance variation.")
    text = (f"What it means: without any effect, {100 * typical:.0f}% of such patients improve on their own, so "
            "improvement in an uncontrolled study is mostly the disease's natural course. ")
    if all_improved >= 0.05:
        text += (f"'All {r.design.n_patients} improved' happens in {100 * all_improved:.1f}% of studies of an "
                 "inactive therapy: it is no evidence of benefit.")
    else:
        how_often = (f"in only {100 * all_improved:.2f}% of" if all_improved > 0
                     else f"in none of the {r.n_trials:,} simulated")
        text += (f"'All {r.design.n_patients} improved' happens {how_often} studies of an inactive therapy "
                 "with these patients, and rarely with a real effect too: a single-arm study cannot tell a real "
                 "effect from the selection of patients, loose definitions of improvement or selective reporting. "
                 "Only a concurrent randomized control can.")
    return text


def simulate_single_arm(design: SingleArmDesign, natural_history: NaturalHistory, *, odds_ratio: float = 1.0,
                        harm: float = 1.0, n_trials: int = 20000, seed: int | None = 20200214,
                        scheduler: Any = None, progress: ProgressHook | None = None,
                        chunk_size: int = 2000) -> SingleArmResult:
    if odds_ratio <= 0 or harm <= 0:
        raise UserError("odds ratios must be positive")
    task = _SingleArmTask(design, natural_history, odds_ratio, harm)
    rec = run_chunks(task, n_trials, seed, chunk_size=chunk_size, scheduler=scheduler, progress=progress)
    n = design.n_patients
    claims = [
        _claim("all_improved", f"all {n} patients improved by day {design.claim_day}", rec["improved"] == n),
        _claim("all_improved_by_end", f"all {n} patients improved by day {design.horizon}", rec["improved_end"] == n),
        _claim("all_ct_improved", f"all {n} patients improved on chest CT by day {design.claim_day}",
               rec["ct_improved"] == n),
        _claim("no_deaths", f"no patient died by day {design.horizon}", rec["deaths"] == 0),
        _claim("all_discharged", f"all {n} patients discharged by day {design.horizon}", rec["discharged"] == n),
        _claim("most_discharged", f"more than half discharged by day {design.horizon}", 2 * rec["discharged"] > n),
    ]
    for c, k in design.composition.items():
        if k:
            claims.append(_claim(f"all_{c}_improved", f"all {k} {c} patients improved by day {design.claim_day}",
                                 rec[f"improved:{c}"] == k))
            claims.append(_claim(f"no_{c}_deaths", f"no {c} patient died by day {design.horizon}",
                                 rec[f"deaths:{c}"] == 0))
    expected = {key: float(np.mean(rec[key])) for key in
                ("improved", "improved_end", "ct_improved", "deaths", "discharged", "discharged_claim_day")}
    at_least = {k: float(np.mean(rec["discharged"] >= k)) for k in range(n + 1)}
    counts = np.bincount(rec["improved"], minlength=n + 1) / n_trials
    return SingleArmResult(design, natural_history.name, odds_ratio, harm, n_trials,
                           seed, claims, expected, at_least, {k: float(c) for k, c in enumerate(counts)})
