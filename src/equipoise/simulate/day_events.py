"""Time to an event counted in days from the virtual patients' paths, compared by the log-rank test.

A natural-history patient's path gives, for a time-to-event outcome followed to day H, one of three things:
the event on day d (e.g. discharge: the first day at WHO level <= 3), a competing event on day d (death, which
censors at its day when the protocol lists it as competing), or neither by day H (censored at H). This is
``analyze.events.event_time``'s rule, which `analyze protocol` applies to the trial's dates. The law of that
(day, kind) pair is what every simulated patient of an arm draws from; :func:`day_event_law` computes it from
the natural history's exact state distributions (no return to hospital after discharge and no death at home
in the model, so "at home on day d" and "dead on day d" are the cumulative incidences). Counts per
(day, kind) per stage are multinomial: the exact sufficient statistic of the log-rank test, vectorised over
trials as the other endpoints are.

The test is the log-rank test with tied days (Mantel 1966; the hypergeometric variance of R's ``survdiff``
and ``analyze.kaplan_meier.logrank``): competing events and patients censored at day H stay at risk on their
own day. The log hazard ratio is estimated by (O - E) / V (Peto), SE 1 / sqrt(V).

References
----------
Mantel N (1966). Evaluation of survival data and two new rank order statistics arising in its consideration.
Cancer Chemother Rep 50:163-170. Peto R, Peto J (1972). Asymptotically efficient rank invariant test
procedures. J R Stat Soc A 135:185-207. Collett D (2015). Modelling Survival Data in Medical Research, 3rd ed.
CRC (the (O - E) / V estimate of the log hazard ratio).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from equipoise.errors import UserError
from equipoise.simulate.endpoints import FloatArray, LookData, _stagewise, per_arm
from equipoise.simulate.natural_history.model import DEAD, DISCHARGED, NaturalHistory, Population

EventKind = Literal["discharge", "death"]


@dataclass(frozen=True)
class DayEventLaw:
    """P(event on day d) and P(competing event on day d) for d = 0..horizon; the rest is censored at horizon."""

    event: tuple[float, ...]
    competing: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.event) != len(self.competing):
            raise UserError("a day-event law needs as many competing-event days as event days")
        if min(self.event + self.competing) < -1e-12 or sum(self.event) + sum(self.competing) > 1 + 1e-9:
            raise UserError("a day-event law's probabilities must be >= 0 and sum to at most 1")

    @property
    def horizon(self) -> int:
        return len(self.event) - 1

    def categories(self) -> FloatArray:
        """[event on day 0..H, competing on day 0..H, censored at H], summing to 1."""
        e = np.clip(np.asarray(self.event, dtype=float), 0.0, None)
        c = np.clip(np.asarray(self.competing, dtype=float), 0.0, None)
        rest = max(0.0, 1.0 - e.sum() - c.sum())
        p = np.concatenate([e, c, [rest]])
        return np.asarray(p / p.sum(), dtype=float)

    def cumulative_incidence(self) -> FloatArray:
        return np.cumsum(np.asarray(self.event, dtype=float))


def day_event_law(model: NaturalHistory, population: Population, horizon: int, event: EventKind,
                  competing: bool, odds_ratio: float = 1.0) -> DayEventLaw:
    """The law of (day, kind) of ``event`` (discharge alive, or death) by day ``horizon`` under the natural
    history with a daily-transition odds ratio; the other of the two is a competing event when ``competing``,
    else the patient is censored at the horizon (and followed to it, as ``analyze.events.event_time`` does)."""
    dist = model.state_distribution(population, odds_ratio=odds_ratio, days=horizon)
    home = dist[:, : DISCHARGED + 1].sum(axis=1)
    dead = dist[:, DEAD]
    new_home = np.diff(np.concatenate([[0.0], home]))
    new_dead = np.diff(np.concatenate([[0.0], dead]))
    first, second = (new_home, new_dead) if event == "discharge" else (new_dead, new_home)
    other = second if competing else np.zeros_like(second)
    return DayEventLaw(tuple(float(x) for x in first), tuple(float(x) for x in other))


def logrank_by_day(e_exp: FloatArray, c_exp: FloatArray, e_ctl: FloatArray, c_ctl: FloatArray,
                   n_exp: FloatArray, n_ctl: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Log-rank O - E of the experimental arm and its variance from counts per day (last axis): events
    ``e_*``, competing events ``c_*`` (censored on their day), ``n_*`` patients; the rest are censored at the
    last day. Leading axes are broadcast (trials, looks)."""
    removed_e = np.cumsum(e_exp + c_exp, axis=-1) - (e_exp + c_exp)  # left before day d
    removed_c = np.cumsum(e_ctl + c_ctl, axis=-1) - (e_ctl + c_ctl)
    risk_e = n_exp[..., None] - removed_e
    risk_c = n_ctl[..., None] - removed_c
    risk = risk_e + risk_c
    d = e_exp + e_ctl
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(risk > 0, d * risk_e / risk, 0.0)
        var = np.where(risk > 1, d * risk_e * risk_c * (risk - d) / (risk**2 * (risk - 1)), 0.0)
    return (e_exp - expected).sum(axis=-1), var.sum(axis=-1)


@dataclass(frozen=True)
class DayEventEndpoint:
    """Two arms with (day, kind) laws, ``planned`` cumulative patients per look (each followed to the horizon
    before the look), the log-rank test. z is positive when the experimental arm does better: more events than
    expected when ``earlier_is_better`` (discharge), fewer otherwise (death)."""

    control: DayEventLaw
    treatment: DayEventLaw
    planned: tuple[float, ...]
    ratio: float = 1.0
    earlier_is_better: bool = True
    projected_effect: float | None = None

    @property
    def true_effect(self) -> float:
        """The probability limit of the estimate (U / V at the expected counts; a log hazard ratio when the
        hazards are proportional, which a daily-transition odds ratio does not make them exactly)."""
        if self.projected_effect is not None:
            return self.projected_effect
        return projected_log_hazard_ratio(self.control, self.treatment, self.ratio)

    @property
    def estimand(self) -> str:
        return "log hazard ratio of the event (experimental vs control; log-rank one-step estimate)"

    def counts(self, n_trials: int, rng: np.random.Generator) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Cumulative category counts per look, (n_trials, looks, 2 (H + 1) + 1), experimental and control."""
        n_e, n_c = per_arm(self.planned, self.ratio)
        out = []
        for law, sizes in ((self.treatment, n_e), (self.control, n_c)):
            p = law.categories()
            stages = np.stack([rng.multinomial(m, p, size=n_trials) for m in _stagewise(sizes)], axis=1)
            out.append(np.cumsum(stages, axis=1))
        return out[0], out[1]

    def looks(self, n_trials: int, rng: np.random.Generator) -> LookData:
        if self.control.horizon != self.treatment.horizon:
            raise UserError("both arms' day-event laws must have the same horizon")
        h1 = self.control.horizon + 1
        ce, cc = self.counts(n_trials, rng)
        n_e, n_c = per_arm(self.planned, self.ratio)
        u, v = logrank_by_day(ce[..., :h1].astype(float), ce[..., h1:2 * h1].astype(float),
                              cc[..., :h1].astype(float), cc[..., h1:2 * h1].astype(float),
                              np.broadcast_to(n_e.astype(float), ce.shape[:2]),
                              np.broadcast_to(n_c.astype(float), cc.shape[:2]))
        sign = 1.0 if self.earlier_is_better else -1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(v > 0, sign * u / np.sqrt(v), 0.0)
            est = np.where(v > 0, u / v, 0.0)
            se = np.where(v > 0, 1 / np.sqrt(v), np.inf)
        size = np.array(np.broadcast_to((n_e + n_c).astype(float), z.shape))
        events = (ce[..., :h1].sum(axis=-1) + cc[..., :h1].sum(axis=-1)).astype(float)
        return LookData(z, est, se, size, events)


def projected_log_hazard_ratio(control: DayEventLaw, treatment: DayEventLaw, ratio: float) -> float:
    """U / V of the log-rank test at the expected counts per patient (allocation ratio experimental:control)."""
    w_e = ratio / (1 + ratio)
    w_c = 1 - w_e
    e_t, c_t = np.asarray(treatment.event), np.asarray(treatment.competing)
    e_c, c_c = np.asarray(control.event), np.asarray(control.competing)
    risk_t = 1 - (np.cumsum(e_t + c_t) - (e_t + c_t))
    risk_c = 1 - (np.cumsum(e_c + c_c) - (e_c + c_c))
    r_e, r_c = w_e * risk_t, w_c * risk_c
    r = r_e + r_c
    d = w_e * e_t + w_c * e_c
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(r > 0, w_e * e_t - r_e * d / r, 0.0).sum()
        v = np.where(r > 0, d * r_e * r_c * (r - d) / r**3, 0.0).sum()  # (n - d) / (n - 1) -> (r - d) / r
    return float(u / v) if v > 0 else 0.0
