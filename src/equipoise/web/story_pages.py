"""The seed story at ``/story`` (public, no sign-in): ``report/story.py``'s SeedStory, the same as ``equipoise
demo story``, told for a journalist or a regulator with its picture (``figures/seed_story.py``) in the reader's
language.

The story simulates thousands of single-arm studies and two randomized trials up to their first look (seconds
of work; see ``STORY_SECONDS``), and its inputs never change while the server runs: it is computed ONCE per
process, on the first request, and kept (so is its picture, once per language). The response's
``Server-Timing`` header gives the time of the story (0 once cached), of the picture and of the page.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from equipoise.evidence.effect_sizes import Measure
from equipoise.figures.seed_story import seed_story_figure
from equipoise.figures.svg import figure_svg
from equipoise.protocol import load_protocol
from equipoise.report.story import REAL_EFFECT, SeedStory, seed_story
from equipoise.simulate.natural_history import load_natural_history
from equipoise.simulate.single_arm import single_arm_design_from_protocol
from equipoise.web.evidence_inputs import EXAMPLES, evidence_csv, read_binary_trials
from equipoise.web.i18n import Language
from equipoise.web.navigation import N_
from equipoise.web.pages import language, render

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class ToldStory:
    story: SeedStory
    seconds: float  # how long computing it took (once per process)


_lock = threading.Lock()
_story: list[ToldStory] = []
_pictures: dict[str, str] = {}


def told_story() -> ToldStory:
    """The seed story, computed once per process (the first request waits for it; the others share it)."""
    with _lock:
        if not _story:
            started = time.perf_counter()
            model = load_natural_history("covid19")
            design = single_arm_design_from_protocol(load_protocol(EXAMPLES / "covid19-msc-single-arm.yaml"), model)
            csv_path = evidence_csv()
            table = read_binary_trials(csv_path) if csv_path.exists() else None
            story = seed_story(design, load_protocol(EXAMPLES / "covid19-msc-rct.yaml"), model, table)
            _story.append(ToldStory(story, time.perf_counter() - started))
        return _story[0]


def picture(story: SeedStory, lang: Language) -> str:
    """The story's picture as inline SVG in ``lang``, drawn once per language."""
    with _lock:
        if lang.code not in _pictures:
            _pictures[lang.code] = figure_svg(seed_story_figure(story, lang.gettext, lambda p: rare(p, lang)))
        return _pictures[lang.code]


def rare(p: float, lang: Language) -> str:
    """A probability as a reader takes it in: '0.40%', or '1 in 73,000' below 0.01%."""
    if p <= 0:
        return "0"
    if p >= 1e-4:
        return f"{100 * p:.2f}%"
    one_in = float(f"{1 / p:.2g}")
    return lang.gettext("1 in %(n)s", n=lang.number(int(one_in)))


def _f(value: float | None, digits: int = 2) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def story_view(story: SeedStory, lang: Language) -> dict[str, Any]:
    """The story's numbers as the page writes them (formatted; words that vary through the catalogues)."""
    _ = lang.gettext
    data = story.to_dict()
    single = []
    for check in (story.first_report, story.case_series):
        none, real = check.results[0], check.results[-1]
        n = check.design.n_patients
        single.append({
            "n": n, "day": check.design.claim_day,
            "mix": ", ".join(f"{k} {_(s)}" for s, k in check.design.composition.items()),
            "none_expected": f"{none.expected_improved:.1f}", "real_expected": f"{real.expected_improved:.1f}",
            "none_all": rare(none.p_all_improved, lang), "real_all": rare(real.p_all_improved, lang),
            "share": f"{100 * none.expected_improved / n:.0f}%",
            "ratio": lang.number(round(real.p_all_improved / none.p_all_improved)) if none.p_all_improved > 0
            else "∞"})
    rct = data["rct"]
    d = story.design
    p = d.primary
    trial = {"id": d.trial_id, "arms": ", ".join(d.experimental_arms), "control": d.control_arm,
             "blinding": _(story.blinding), "allocation": _(story.allocation), "sites": story.sites,
             "odds_ratio": f"{p.assumptions.get('odds_ratio', float('nan')):g}", "power": f"{100 * p.power:.0f}%",
             "alpha": f"{100 * p.alpha:g}%", "n": lang.number(story.n_max),
             "n_fixed": lang.number(math.ceil(p.n_fixed or 0)), "n_int": story.n_max,
             "target": lang.number(d.target_total or 0),
             "outcome": story.primary_outcome_name or d.primary_outcome,
             "looks": [{"look": b["look"], "information": f"{100 * b['information_rate']:.0f}%",
                        "patients": "—" if b["patients"] is None else lang.number(b["patients"]),
                        "efficacy": _f(b["efficacy_z"]), "futility": _f(b["futility_z"])}
                       for b in rct["boundaries"]]}
    interims = []
    for s in story.interims:
        r = s.result
        lk = r.looks[-1]
        interims.append({"label": _(s.label), "date": lang.date(s.look_date), "randomized": s.randomized,
                         "analysed": s.analysed,
                         "by_arm": ", ".join(f"{n} {a}" for a, n in s.by_arm.items()),
                         "estimate": _f(math.exp(lk.estimate) if r.log_scale else lk.estimate), "z": _f(lk.z),
                         "upper": _f(r.upper[r.look - 1]), "lower": _f(r.lower[r.look - 1]),
                         "decision": _(r.decision),
                         "cp": None if r.conditional_power_design is None
                         else f"{100 * r.conditional_power_design:.0f}%"})
    evidence = None
    if story.evidence is not None:
        pooled = story.evidence.pooled
        v = story.evidence.table.values
        fitted = [s for s in story.evidence.steps or () if s.pooled is not None]
        first, last = (fitted[0].pooled, fitted[-1].pooled) if len(fitted) >= 2 else (None, None)
        evidence = {"k": pooled.k, "n": lang.number(int(np.nansum(v["n_treatment"]) + np.nansum(v["n_control"]))),
                    "n_int": int(np.nansum(v["n_treatment"]) + np.nansum(v["n_control"])),
                    "measure": _(pooled.measure.label), "estimate": _f(pooled.estimate),
                    "low": _f(pooled.natural(pooled.ci_lb)), "high": _f(pooled.natural(pooled.ci_ub)),
                    "i2": f"{pooled.i2:.0f}",
                    "steps": [{"study": s.study, "estimate": _f(s.pooled.estimate) if s.pooled else "—",
                               "low": _f(s.pooled.natural(s.pooled.ci_lb)) if s.pooled else "—",
                               "high": _f(s.pooled.natural(s.pooled.ci_ub)) if s.pooled else "—"}
                              for s in story.evidence.steps or ()],
                    "first": _f(first.estimate) if first else None, "last": _f(last.estimate) if last else None,
                    "overstated": bool(first and last and abs(first.beta) > abs(last.beta))}
    return {"single": single, "real_effect": f"{REAL_EFFECT:g}", "trial": trial, "interims": interims,
            "evidence": evidence, "seed": story.seed, "measure_rr": Measure.RR.label}


@router.get("/story", response_class=HTMLResponse)
def story_page(request: Request) -> Response:
    started = time.perf_counter()
    told = told_story()
    computed = time.perf_counter() - started
    lang = language(request)
    svg = picture(told.story, lang)
    drawn = time.perf_counter() - started - computed
    response = render(request, "story.html", story=story_view(told.story, lang), figure=svg,
                      story_seconds=f"{told.seconds:.1f}")
    total = time.perf_counter() - started
    response.headers["Server-Timing"] = (f"story;dur={1000 * computed:.1f}, figure;dur={1000 * drawn:.1f}, "
                                         f"page;dur={1000 * total:.1f}")
    return response


# words of the story that come from its data, for the catalogues (shown through gettext)
STORY_WORDS = [N_("no effect"), N_("a real effect"), N_("mild"), N_("moderate"), N_("severe"), N_("critical"),
               N_("double-blind"), N_("single-blind"), N_("open-label"), N_("minimization"), N_("block"),
               N_("simple"), N_("stratified block"), N_("continue"), N_("stop for efficacy"),
               N_("stop for futility"), N_("reject H0"), N_("do not reject H0"), N_("risk ratio"),
               N_("odds ratio"), N_("risk difference")]
