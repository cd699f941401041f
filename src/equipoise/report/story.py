"""The seed story: why Equipoise exists, told with its own layers in one result.

In February 2020 a Beijing hospital reported that seven, then 31 patients with COVID-19 all "improved" after an
infusion of umbilical-cord mesenchymal stem cells (MSC), with no control group. The story puts four things side
by side, each computed by the layer that owns it:

1. the claim check (``simulate.claim_check``): what the same single-arm studies would show on virtual patients
   with NO effect and with a real one, so that "all improved" can be weighed;
2. the randomized trial that should have been run (``design.protocol_design`` on
   ``examples/covid19-msc-rct.yaml``): its size and group-sequential boundaries;
3. that trial simulated in memory up to its first interim look, on the virtual patients the demo server is
   filled with (``simulate.casebooks``), allocated by the protocol's own minimization with a seeded random
   source (``allocate``), and the interim decision (``analyze.interim``), once with no effect and once with a
   real one (the same patients: both of a patient's courses come from the same random numbers);
4. the pooled randomized evidence on MSC and death, and how it moved as trials reported (``evidence``:
   cumulative meta-analysis).

Everything is deterministic given the seeds. Nothing here reads a file or a database: the caller loads the
protocols, the natural history and the study table.

References
----------
Leng Z et al. Transplantation of ACE2- mesenchymal stem cells improves the outcome of patients with COVID-19
pneumonia. Aging Dis 2020;11:216-228 (the 7 patients: 2 common, 4 severe, 1 critically severe).
Pocock SJ. Clinical Trials: A Practical Approach. Wiley 1983, ch. 4 (historical and uncontrolled comparisons).
Jennison C, Turnbull BW. Group Sequential Methods with Applications to Clinical Trials. Chapman & Hall 2000.
Lau J et al. Cumulative meta-analysis of therapeutic trials for myocardial infarction. N Engl J Med
1992;327:248-254.
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from equipoise.allocate.from_protocol import build_request, scheme_from_protocol
from equipoise.allocate.sources import SeededSource
from equipoise.analyze.interim import InterimResult, MonitoringPlan, monitor
from equipoise.analyze.interim_inputs import design_effect_source, looks_from_protocol
from equipoise.design.protocol_design import ProtocolDesign, design_protocol
from equipoise.errors import UserError
from equipoise.evidence.effect_sizes import Measure
from equipoise.evidence.meta_analysis import MetaAnalysis, run_meta_analysis
from equipoise.evidence.pooled import Method
from equipoise.evidence.study_table import StudyTable
from equipoise.figures.seed_story import seed_story_figure
from equipoise.protocol import Protocol
from equipoise.simulate.casebooks import screen
from equipoise.simulate.claim_check import ClaimCheck, Scenario, check_claim, rarity
from equipoise.simulate.natural_history.model import NaturalHistory
from equipoise.simulate.single_arm import SingleArmDesign

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# The first report (Leng et al. 2020): 7 patients, 2 common (mild), 4 severe, 1 critically severe.
FIRST_REPORT = {"mild": 2, "severe": 4, "critical": 1}
# A real effect: an odds ratio of 1.3 on every daily transition of the WHO scale, the size randomized trials of
# COVID-19 therapies found (the claim check's "plausible effect").
REAL_EFFECT = 1.3
DEMO_SEED = 20200316  # the seed of `equipoise demo` (make run)
SIMULATED_DAYS = 180  # the simulated trial runs for this long after its protocol takes effect
DAY28 = 28


@dataclass(frozen=True)
class SimulatedInterim:
    """The demo RCT simulated in memory up to its first interim look, and the decision there."""

    label: str
    odds_ratio: float  # true effect on the daily transitions of the WHO scale (1: none)
    look_date: dt.date
    randomized: int  # patients randomized by the look date
    analysed: int  # patients with their day-28 outcome at the look
    by_arm: dict[str, int]  # analysed patients per arm
    result: InterimResult

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "odds_ratio_daily": self.odds_ratio, "look_date": self.look_date.isoformat(),
                "randomized": self.randomized, "analysed": self.analysed, "analysed_by_arm": self.by_arm,
                "decision": self.result.decision, "z": self.result.looks[-1].z,
                "efficacy_bound": self.result.upper[self.result.look - 1],
                "futility_bound": self.result.lower[self.result.look - 1],
                "interim": self.result.to_dict()}

    def __str__(self) -> str:
        look = self.result.look
        return (f"{self.label}: {self.randomized} randomized by {self.look_date.isoformat()}, {self.analysed} with "
                f"their day-28 outcome; Z = {self.result.looks[-1].z:.2f} against the efficacy bound "
                f"{self.result.upper[look - 1]:.2f} at look {look}: {self.result.decision}")


@dataclass(frozen=True)
class SeedStory:
    """The seed story's numbers, each from the layer that computes it (see the module docstring)."""

    first_report: ClaimCheck  # 7 patients
    case_series: ClaimCheck  # 31 patients
    design: ProtocolDesign
    interims: tuple[SimulatedInterim, ...]  # no effect, then a real effect
    evidence: MetaAnalysis | None
    seed: int
    primary_outcome_name: str = ""
    allocation: str = ""  # the randomization method of the trial's protocol
    blinding: str = ""
    sites: int = 0

    # --- numbers the text uses ----------------------------------------------------------------------------------

    @property
    def n_max(self) -> int:
        n = self.design.primary.n_total
        return math.ceil(n) if n is not None else 0

    def _boundaries(self) -> list[dict[str, Any]]:
        d = self.design.design
        n_per_look = self.design.primary.n_per_look
        out = []
        for k, t in enumerate(d.information_rates):
            fut = None if d.futility is None or k == len(d.information_rates) - 1 else float(d.futility[k])
            out.append({"look": k + 1, "information_rate": float(t),
                        "patients": None if n_per_look is None else math.ceil(float(n_per_look[k])),
                        "efficacy_z": float(d.upper[k]), "futility_z": fut,
                        "cumulative_alpha": float(d.cumulative_alpha[k])})
        return out

    def to_dict(self) -> dict[str, Any]:
        def claim(c: ClaimCheck) -> dict[str, Any]:
            return {"n_patients": c.design.n_patients, "composition": c.design.composition,
                    "claim_day": c.design.claim_day,
                    "probability_all_improved": {r.scenario.label: r.p_all_improved for r in c.results},
                    "expected_improved": {r.scenario.label: r.expected_improved for r in c.results},
                    "claim_check": c.to_dict()}

        primary = self.design.primary
        evidence: dict[str, Any] | None = None
        if self.evidence is not None:
            p = self.evidence.pooled
            evidence = {"measure": p.measure.value, "method": p.method.value, "k": p.k,
                        "estimate": p.estimate, "ci_low": p.natural(p.ci_lb), "ci_high": p.natural(p.ci_ub),
                        "p_value": p.p_value, "i2": p.i2,
                        "steps": [s.to_dict() for s in self.evidence.steps or ()],
                        "meta_analysis": self.evidence.to_dict()}
        return {
            "seed": self.seed,
            "single_arm": {"first_report": claim(self.first_report), "case_series": claim(self.case_series),
                           "real_effect_odds_ratio_daily": REAL_EFFECT},
            "rct": {"trial": self.design.trial_id, "primary_outcome": self.design.primary_outcome,
                    "n_total": self.n_max, "n_total_unrounded": primary.n_total, "n_fixed": primary.n_fixed,
                    "target_total": self.design.target_total, "power": primary.power, "alpha": primary.alpha,
                    "sided": primary.sided, "boundaries": self._boundaries(), "design": self.design.to_dict()},
            "interim": [i.to_dict() for i in self.interims],
            "evidence": evidence,
        }

    # --- the text -----------------------------------------------------------------------------------------------

    def __str__(self) -> str:
        paragraphs = [self._single_arm_text(), self._rct_text(), self._interim_text()]
        if self.evidence is not None:
            paragraphs.append(self._evidence_text())
        lines = ["The seed story: mesenchymal stem cells for COVID-19, 2020", ""]
        for title, body in paragraphs:
            lines += [title, "-" * len(title)]
            for para in body:
                lines += [*textwrap.wrap(para, 110, break_on_hyphens=False), ""]
        lines.pop()
        return "\n".join(lines)

    def _single_arm_text(self) -> tuple[str, list[str]]:
        out = []
        for c, when in ((self.first_report, "In February 2020 a Beijing hospital reported"),
                        (self.case_series, "Then it reported")):
            n = c.design.n_patients
            none, real = c.results[0], c.results[-1]
            mix = ", ".join(f"{k} {s}" for s, k in c.design.composition.items())
            out.append(f"{when} {n} patients ({mix}) given stem cells, all of them 'improved', with no control "
                       f"group. On virtual patients whose illness follows the natural course of hospitalised "
                       f"COVID-19, such a study of {n} patients sees {none.expected_improved:.1f} of {n} improve "
                       f"by day {c.design.claim_day} on average if the cells do NOTHING, and "
                       f"{real.expected_improved:.1f} if they really help (odds ratio {REAL_EFFECT:g} on every "
                       f"day's chance of getting better). 'All {n} improved' happens in "
                       f"{_studies(none.p_all_improved)} with no effect and {_studies(real.p_all_improved)} "
                       f"with a real effect.")
        c = self.case_series
        none, real = c.results[0], c.results[-1]
        ratio = real.p_all_improved / none.p_all_improved if none.p_all_improved > 0 else math.inf
        share = 100 * none.expected_improved / c.design.n_patients
        out.append(f"So most improvement is the natural course: {share:.0f}% of such patients improve with no "
                   f"treatment effect at all. A report that all {c.design.n_patients} improved is "
                   f"{ratio:.0f} times likelier with a real effect, but rare either way; it says more about who was "
                   "enrolled and how 'improved' was judged than about the cells. Without a randomized control, a "
                   "therapy that does nothing and one that works look alike.")
        return "1. What the single-arm studies would show", out

    def _rct_text(self) -> tuple[str, list[str]]:
        d, p = self.design, self.design.primary
        b = self._boundaries()
        looks = "; ".join(
            f"look {x['look']} at {100 * x['information_rate']:.0f}% of the information"
            + (f" (about {x['patients']} patients)" if x["patients"] is not None else "")
            + f": stop for benefit if Z >= {x['efficacy_z']:.2f}"
            + (f", consider stopping for futility if Z <= {x['futility_z']:.2f}" if x["futility_z"] is not None
               else "")
            for x in b)
        text = [f"The trial that should have been run ({d.trial_id}): {', '.join(d.experimental_arms)} against "
                f"{d.control_arm}, {self.blinding}, patients allocated by {self.allocation} at {self.sites} "
                f"hospitals; primary outcome: the {self.primary_outcome_name or d.primary_outcome}. To detect a "
                f"common odds ratio of {p.assumptions.get('odds_ratio', float('nan')):g} with power "
                f"{100 * p.power:.0f}% at a one-sided level of {100 * p.alpha:g}%, it needs {self.n_max} patients "
                f"({math.ceil(p.n_fixed or 0)} without interim looks; the protocol's target is "
                f"{d.target_total}).",
                f"A data monitoring committee looks {len(b)} times: {looks}."]
        return "2. The randomized trial that should have been run", text

    def _interim_text(self) -> tuple[str, list[str]]:
        out = []
        for s in self.interims:
            r = s.result
            lk = r.looks[-1]
            fut = r.lower[r.look - 1]
            bounds = f"the bound for benefit is {r.upper[r.look - 1]:.2f}" + (
                f" and for futility {fut:.2f}" if fut is not None else "")
            cp = r.conditional_power_design
            cp_text = (f" The chance of showing benefit by the end, if the designed effect were true, is "
                       f"{100 * cp:.0f}%." if cp is not None else "")
            out.append(f"With {s.label}: by {s.look_date:%d %B %Y}, {s.randomized} patients were randomized and "
                       f"{s.analysed} had their day-28 outcome ({', '.join(f'{n} {a}' for a, n in s.by_arm.items())}"
                       f"). The estimated {r.measure.replace('_', ' ')} for a better outcome is "
                       f"{math.exp(lk.estimate) if r.log_scale else lk.estimate:.2f} (Z = "
                       f"{lk.z:.2f}); {bounds}. Decision: {r.decision.upper()}.{cp_text}")
        out.append(f"The same virtual patients in both cases, allocated by the protocol's {self.allocation} with a "
                   f"seeded random source (seed {self.seed}); `make run` fills the demo server with patients "
                   "drawn the same way (its arms come from the server's own random numbers).")
        return "3. The simulated trial at its first interim look", out

    def _evidence_text(self) -> tuple[str, list[str]]:
        assert self.evidence is not None
        p = self.evidence.pooled
        steps = []
        for s in self.evidence.steps or ():
            if s.pooled is None:
                steps.append(f"after {s.study}: not estimable")
            else:
                q = s.pooled
                steps.append(f"after {s.study}: {q.estimate:.2f} ({q.natural(q.ci_lb):.2f} to "
                             f"{q.natural(q.ci_ub):.2f})")
        v = self.evidence.table.values
        n = int(np.nansum(v["n_treatment"]) + np.nansum(v["n_control"])) if "n_control" in v else None
        size = f" with {n} patients in all" if n is not None else ""
        text = [f"The randomized trials that did report, {p.k}{size}, pooled ({self.evidence.method_text}): "
                f"{p.measure.label} of death {p.estimate:.2f} (95% CI {p.natural(p.ci_lb):.2f} to "
                f"{p.natural(p.ci_ub):.2f}), I^2 = {p.i2:.0f}%.",
                "How it moved as trials reported: " + "; ".join(steps) + "." + self._drift_text()
                + (f" Even pooled, these trials have fewer patients than the {self.n_max} the one trial above "
                   "needed." if n is not None and n < self.n_max else "")]
        return "4. The pooled evidence, trial by trial", text

    def _drift_text(self) -> str:
        """Whether the first trials' estimate was further from no effect than the latest one (log scale)."""
        assert self.evidence is not None
        fitted = [s.pooled for s in self.evidence.steps or () if s.pooled is not None]
        if len(fitted) < 2:
            return ""
        first, last = fitted[0], fitted[-1]
        if abs(first.beta) > abs(last.beta):
            return (f" The first trial alone suggested a larger effect ({first.estimate:.2f}) than all of them "
                    f"together show ({last.estimate:.2f}): small early trials often overstate an effect.")
        return f" The estimate went from {first.estimate:.2f} with the first trial to {last.estimate:.2f}."

    # --- the picture --------------------------------------------------------------------------------------------

    def plot(self) -> Figure:
        """The story's picture (``figures.seed_story``): the single-arm study under each effect, the trial's
        boundaries with the simulated interim Z values, and the cumulative meta-analysis."""
        return seed_story_figure(self)


def _studies(p: float) -> str:
    """'3.05% of studies', '1 in 73,000 studies'."""
    text = rarity(p)
    return f"{text} of studies" if text.endswith("%") else f"{text} studies"


# --- building it ----------------------------------------------------------------------------------------------


def simulate_first_interim(protocol: Protocol, natural_history: NaturalHistory, *, odds_ratio: float, seed: int,
                           label: str) -> SimulatedInterim:
    """The demo trial on virtual patients (``simulate.casebooks.screen``), allocated one by one by the protocol's
    scheme with a seeded source, analysed at the first planned look: when the day-28 outcomes of the first
    ``information_rates[0] * target`` patients are in (the protocol's primary analysis on them)."""
    plan = protocol.analysis
    target = protocol.enrolment.target.total if protocol.enrolment.target is not None else None
    if plan is None or plan.looks is None or not target or protocol.control_arm is None:
        raise UserError(f"{protocol.trial.id}: the story's interim needs an analysis plan with looks, a control "
                        "arm and an enrolment target")
    needed = math.ceil(plan.looks.information_rates[0] * target)
    as_of = dt.datetime.combine(protocol.trial.effective_date + dt.timedelta(days=SIMULATED_DAYS), dt.time(12),
                                dt.UTC)
    candidates = [c for c in screen(protocol, natural_history, patients=needed * 2, seed=seed, as_of=as_of,
                                    odds_ratio=odds_ratio) if c.eligible]
    if len(candidates) < needed:
        raise UserError(f"the simulated trial enrolled {len(candidates)} patients, fewer than the {needed} of its "
                        "first look")
    look_at = candidates[needed - 1].screened_at + dt.timedelta(days=DAY28)
    source = SeededSource(seed)
    states: dict[str, dict[str, Any]] = {}
    control = protocol.control_arm.id
    rows = []
    for c in candidates:
        if c.screened_at > look_at:
            break
        in_force = protocol.in_force(c.local_date)
        scheme = scheme_from_protocol(in_force)
        request = build_request(in_force, c.site_id, c.values)
        key = scheme.state_key(request)
        allocation = scheme.allocate(states.get(key, scheme.initial_state()), request, source)
        states[key] = allocation.state
        experimental = allocation.arm != control
        known = c.screened_at + dt.timedelta(days=DAY28) <= look_at
        rows.append({"arm": allocation.arm, "severity": c.values["severity"], "age": c.values["age"],
                     "who_day28": c.courses[experimental][DAY28] if known else np.nan, "look": 1})
    frame = pd.DataFrame(rows)
    inputs = looks_from_protocol(protocol, frame.dropna(subset=["who_day28"]).reset_index(drop=True))
    result = monitor(MonitoringPlan.from_protocol(plan), inputs.looks, theta_design=inputs.theta_design,
                     measure=inputs.measure, log_scale=inputs.log_scale,
                     theta_design_source=design_effect_source(protocol))
    analysed = frame.dropna(subset=["who_day28"])
    by_arm = {str(a): int(n) for a, n in analysed["arm"].value_counts().sort_index().items()}
    return SimulatedInterim(label, odds_ratio, look_at.date(), len(frame), len(analysed), by_arm, result)


def seed_story(single_arm: SingleArmDesign, rct: Protocol, natural_history: NaturalHistory,
               evidence: StudyTable | None, *, n_trials: int = 2000, seed: int = DEMO_SEED,
               claim_seed: int = 20200214) -> SeedStory:
    """The seed story from the case series' design (31 patients), the RCT's protocol, the natural history and the
    randomized trials' deaths (``examples/evidence/msc-covid-mortality.csv``; None leaves part 4 out)."""
    scenarios = [Scenario("no effect", 1.0), Scenario("a real effect", REAL_EFFECT)]
    first = SingleArmDesign(FIRST_REPORT, claim_day=single_arm.claim_day, horizon=single_arm.horizon,
                            name="first report (7 patients)")
    first_check = check_claim(first, natural_history, scenarios, n_trials=n_trials, seed=claim_seed)
    series_check = check_claim(single_arm, natural_history, scenarios, n_trials=n_trials, seed=claim_seed)
    design = design_protocol(rct)
    interims = tuple(simulate_first_interim(rct, natural_history, odds_ratio=s.odds_ratio, seed=seed,
                                            label=s.label) for s in scenarios)
    meta = None
    if evidence is not None:
        meta = run_meta_analysis(evidence, Measure.RR, Method.REML, with_cumulative=True,
                                 labels=("MSC", "control"))
    outcome = rct.outcome(design.primary_outcome)
    method = rct.randomization.method.value.replace("-", " ") if rct.randomization else "randomization"
    return SeedStory(first_check, series_check, design, interims, meta, seed,
                     primary_outcome_name=outcome.name if outcome else design.primary_outcome, allocation=method,
                     blinding=rct.trial.blinding.value, sites=len(rct.sites))
