"""The closed report's adaptive platform section: each arm's posteriors at the report's data cut-off, the
decisions of the protocol's rules, the next allocation table they propose, and the allocation history.

The numbers are those of ``equipoise analyze platform`` (``equipoise.analyze.platform_analysis``) on the same
data, so the committee reads what the statistician would publish.
"""

from __future__ import annotations

import datetime as dt

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from equipoise.analyze.platform_analysis import OutcomePosteriors, analyze_platform
from equipoise.analyze.results import fmt
from equipoise.protocol import Protocol
from equipoise.report.document import Section
from equipoise.report.tables import Table


def allocation_history_plot(patients: pd.DataFrame, arm: str, arms: list[str]) -> Figure:
    """Share of the patients randomized each calendar month to each arm (stacked), with the monthly counts."""
    months = pd.to_datetime(patients["randomised_on"]).dt.to_period("M")
    counts = pd.crosstab(months, patients[arm]).reindex(columns=arms, fill_value=0)
    share = counts.div(counts.sum(axis=1), axis=0)
    fig, ax = plt.subplots(figsize=(7.5, 3.6), layout="constrained")
    labels = [str(m) for m in share.index]
    bottom = [0.0] * len(labels)
    for name in arms:
        values = share[name].tolist()
        ax.bar(labels, values, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    for i, total in enumerate(counts.sum(axis=1)):
        ax.annotate(f"n={total}", (i, 1.01), ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("share of the month's patients")
    ax.set_xlabel("month of randomization")
    ax.set_title("Allocation history")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


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


def platform_section(protocol: Protocol, patients: pd.DataFrame, arm: str, on: dt.date) -> Section | None:
    """The section, when the protocol has an adaptive section; None otherwise."""
    if protocol.adaptive is None:
        return None
    data = patients.rename(columns={arm: "arm"}) if arm != "arm" else patients
    result = analyze_platform(protocol, data, on)
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
