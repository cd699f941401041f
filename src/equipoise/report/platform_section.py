"""The closed report's adaptive platform section: each arm's posteriors at the report's data cut-off, the
decisions of the protocol's rules, the next allocation table they propose, and the allocation history.

The numbers are those of ``equipoise analyze platform`` (``equipoise.analyze.platform_analysis``) on the same
data, so the committee reads what the statistician would publish.
"""

from __future__ import annotations

import pandas as pd

from equipoise.analyze.platform_analysis import OutcomePosteriors, PlatformAnalysis
from equipoise.analyze.results import fmt
from equipoise.figures.allocation_history import allocation_history_plot
from equipoise.report.document import Section
from equipoise.report.tables import Table


def _posterior_table(block: OutcomePosteriors, primary: bool) -> Table:
    ordinal = block.model != "beta-binomial"
    rows = [[a.arm + (" (control)" if a.control else ""), str(a.randomized), str(a.with_outcome),
             fmt(a.estimate, 3), "—" if a.p_better is None else f"{a.p_better:.4f}",
             "—" if a.p_best is None else f"{a.p_best:.3f}",
             a.decision + (f" → {a.action}" if a.action else "")] for a in block.arms]
    what = "log odds ratio of a worse level vs control" if ordinal else "posterior mean event rate"
    return Table(f"{block.outcome}: posteriors by arm ({block.model}{', primary' if primary else ''})",
                 ["Arm", "Randomized", "With outcome", "Estimate", "P(better than control)", "P(best therapy)",
                  "Decision"], rows, f"Estimate: {what}." + ("" if primary else " Reported only: no rule reads it."))


def platform_section(result: PlatformAnalysis, data: pd.DataFrame) -> Section:
    """The section from the platform analysis (``closed_report_inputs``) of ``data``, whose arm column is
    ``arm``."""
    sec = Section("Adaptive platform analysis")
    decided = [f"{a.arm}: {a.decision} → {a.action}" for a in result.primary.arms if a.action]
    sec.callout("Decision rules: " + (f"{len(decided)} arm(s) crossed a threshold" if decided else
                                      "no threshold crossed"), decided)
    sec.table(_posterior_table(result.primary, True))
    for block in result.secondary:
        sec.table(_posterior_table(block, False))
    rows = [[name, f"{p:.4f}"] for name, p in result.proposed_table.items()]
    note = ("Close the arms the rules stopped by amendment (drop-arm) before the table is published."
            if result.close_arms else "The unblinded statistician publishes it (re-authenticated, audited).")
    sec.table(Table("Proposed next allocation table", ["Arm", "Probability"], rows, note))
    arms = [a.arm for a in result.primary.arms]
    sec.figure(allocation_history_plot(data[data["arm"].isin(arms)], "arm", arms),
               "Share of each month's randomized patients by arm (the allocation the server applied).")
    return sec
