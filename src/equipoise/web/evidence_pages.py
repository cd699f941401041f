"""The living meta-analysis at ``/evidence`` (public: published trials only): the randomized trials of the
evidence CSV (``evidence_inputs.evidence_csv``) pooled as ``equipoise evidence meta`` pools them, with the
forest, cumulative and trial-sequential plots and the GRADE certainty summary (``equipoise.evidence``; the
figures of ``equipoise.figures``).

The analysis is computed once per version of the file (its path and modification time) and kept; the
``Server-Timing`` header gives its time (0 once cached) and the page's.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from equipoise.errors import InvalidError, UserError
from equipoise.evidence.certainty import CertaintyAssessment, assess_certainty
from equipoise.evidence.effect_sizes import Measure
from equipoise.evidence.meta_analysis import MetaAnalysis, run_meta_analysis
from equipoise.evidence.pooled import Method
from equipoise.evidence.registry_record import RegistryRecord
from equipoise.evidence.registry_summary import RegistrySummary, summarise
from equipoise.evidence.tsa import TrialSequentialAnalysis, trial_sequential_analysis
from equipoise.evidence_store import RegistryStore
from equipoise.figures.svg import figure_svg
from equipoise.web.evidence_inputs import evidence_csv, read_binary_trials, read_trial_bias
from equipoise.web.navigation import N_
from equipoise.web.pages import render

router = APIRouter(include_in_schema=False)

REGISTRY_ENV = "EQUIPOISE_REGISTRY_STORE"  # an evidence store (DuckDB) made by `equipoise evidence import`
SHOWN_RECORDS = 50  # registry search results shown on the page
ASSUMED_RRR = 0.2  # TSA: a relative risk reduction of 20%, the size worth detecting (stated on the page)


@dataclass(frozen=True)
class LivingEvidence:
    path: Path
    meta: MetaAnalysis
    tsa: TrialSequentialAnalysis
    certainty: CertaintyAssessment
    control_risk: float
    figures: dict[str, str]  # forest, cumulative, tsa: inline SVG
    seconds: float


_lock = threading.Lock()
_cache: dict[tuple[str, float], LivingEvidence] = {}


def living_evidence(path: Path) -> LivingEvidence:
    """The analysis of ``path``, computed once per version of the file."""
    key = (str(path), path.stat().st_mtime)
    with _lock:
        if key not in _cache:
            started = time.perf_counter()
            table = read_binary_trials(path)
            meta = run_meta_analysis(table, Measure.RR, Method.REML, with_cumulative=True, labels=("MSC", "control"))
            v = table.values
            control_risk = float(np.sum(v["events_control"]) / np.sum(v["n_control"]))
            tsa = trial_sequential_analysis(table, Measure.RR, Method.DL, control_risk=control_risk, rrr=ASSUMED_RRR)
            certainty = assess_certainty(meta.pooled, read_trial_bias(path), outcome="death", tsa=tsa)
            figures = {"forest": figure_svg(meta.plot()), "cumulative": figure_svg(meta.cumulative_plot()),
                       "tsa": figure_svg(tsa.plot())}
            _cache.clear()
            _cache[key] = LivingEvidence(path, meta, tsa, certainty, control_risk, figures,
                                         time.perf_counter() - started)
        return _cache[key]


@dataclass(frozen=True)
class RegistrySearch:
    condition: str
    intervention: str
    total: int
    records: list[RegistryRecord]
    summary: RegistrySummary


def registry_search(path: Path, condition: str, intervention: str) -> RegistrySearch:
    """The registered trials matching the words (all of them without any), as ``equipoise evidence search`` and
    ``summary`` find and count them."""
    c, i = condition or None, intervention or None
    with RegistryStore.open(path, create=False) as store:
        total = store.count_matching(condition=c, intervention=i)
        records = store.search(condition=c, intervention=i, limit=SHOWN_RECORDS)
        summary = summarise(store.summary_rows(condition=c, intervention=i))
    return RegistrySearch(condition, intervention, total, records, summary)


@router.get("/evidence", response_class=HTMLResponse)
def evidence_page(request: Request) -> Response:
    started = time.perf_counter()
    path = evidence_csv()
    try:
        evidence: LivingEvidence | None = living_evidence(path)
        problem = None
    except (OSError, InvalidError, UserError) as refused:
        evidence, problem = None, str(getattr(refused, "message", refused))
    computed = time.perf_counter() - started
    store = os.environ.get(REGISTRY_ENV)
    registry, registry_problem = None, None
    if store:
        condition = request.query_params.get("condition", "").strip()[:200]
        intervention = request.query_params.get("intervention", "").strip()[:200]
        try:
            registry = registry_search(Path(store), condition, intervention)
        except UserError as refused:
            registry_problem = str(refused)
    response = render(request, "evidence.html", evidence=evidence, problem=problem, csv_name=path.name,
                      assumed_rrr=f"{100 * ASSUMED_RRR:.0f}%", registry=registry, registry_problem=registry_problem)
    response.headers["Server-Timing"] = (f"analysis;dur={1000 * computed:.1f}, "
                                         f"page;dur={1000 * (time.perf_counter() - started):.1f}")
    return response


# words of the analysis shown through gettext
EVIDENCE_WORDS = [N_("risk of bias"), N_("inconsistency"), N_("indirectness"), N_("imprecision"),
                  N_("publication bias"), N_("not serious"), N_("serious"), N_("very serious"), N_("very low"),
                  N_("low"), N_("moderate"), N_("high"), N_("some")]
