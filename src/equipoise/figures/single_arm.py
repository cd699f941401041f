"""Single-arm studies simulated on virtual patients: how many of the patients improve in studies of an inactive
therapy, with the share of studies where 'all improved' (``SingleArmResult.plot()``); and the claim check, the
same study under no effect and under real effects side by side, with the 5% line (``ClaimCheck.plot()``;
``equipoise simulate single-arm --plot``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from equipoise.simulate.claim_check import ClaimCheck
    from equipoise.simulate.single_arm import SingleArmResult

SCENARIO_COLOURS = ("#636363", "#2b8cbe", "#e6550d", "#756bb1")  # no effect in grey, then the effects


def single_arm_plot(result: SingleArmResult) -> Any:
    """How many of the patients improve in studies of an inactive therapy, with the claim 'all improved'."""
    import matplotlib  # heavy: loaded only when a picture is asked for

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    n = result.design.n_patients
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    ks = list(range(n + 1))
    ax.bar(ks, [result.improved_distribution.get(k, 0.0) for k in ks], color="#636363")
    ax.axvline(n, color="#d7301f", linestyle="--")
    top = max(result.improved_distribution.values(), default=1.0)
    ax.text(n - 0.5, 0.95 * top, f"'all {n} improved':\n{100 * result.claim('all_improved').probability:.2f}% "
            "of studies", ha="right", va="top", color="#d7301f")
    ax.set_xlabel(f"patients improved by day {result.design.claim_day} (of {n})")
    ax.set_ylabel("probability")
    effect = "no treatment effect" if result.odds_ratio == 1 and result.harm == 1 else f"OR {result.odds_ratio:g}"
    ax.set_title(f"{result.design.name}: {effect}, {result.n_trials:,} simulated studies")
    return fig


def claim_check_plot(check: ClaimCheck) -> Any:
    """The distribution of patients improved under each effect, with 'all n improved' and the 5% line."""
    import matplotlib  # heavy: loaded only when a picture is asked for

    matplotlib.use("Agg")  # files only
    from matplotlib.figure import Figure

    n = check.design.n_patients
    fig = Figure(figsize=(8, 5.4), layout="constrained")
    ax = fig.subplots()
    ks = np.arange(n + 1)
    for r, colour in zip(check.results, SCENARIO_COLOURS, strict=False):
        name = r.scenario.label if r.scenario.label == r.scenario.effect_text else \
            f"{r.scenario.label} ({r.scenario.effect_text})"
        ax.plot(ks, r.improved_distribution, marker="o", markersize=3, color=colour,
                label=f"{name}: 'all {n} improved' in {r.of_studies}")
    k = check.threshold
    if k <= n:
        ax.axvline(k - 0.5, color="#999999", linestyle=":")
        ax.annotate(f"{k} or more improved:\n<= 5% with no effect", (k - 0.5, 0.98),
                    xycoords=("data", "axes fraction"), xytext=(-4, 0), textcoords="offset points", ha="right",
                    va="top", color="#555555", fontsize=8)
    ax.axvline(n, color="#d7301f", linestyle="--")
    ax.annotate(f"'all {n}\nimproved'", (n, 0.98), xycoords=("data", "axes fraction"), xytext=(-4, 0),
                textcoords="offset points", ha="right", va="top", color="#d7301f", fontsize=9)
    # start where any scenario has 0.1% of its studies, not at 0 (nobody improves in none of them)
    first = min(int(np.argmax(np.cumsum(r.improved_distribution) > 1e-3)) for r in check.results)
    ax.set_xlim(max(first, 0) - 0.5, n + 0.8)
    ax.set_xlabel(f"patients improved by day {check.design.claim_day} (of {n})")
    ax.set_ylabel("probability of a study (exact)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=9, frameon=False)
    ax.set_title(f"{check.design.name}: the same single-arm study of {n} patients under each effect\n"
                 "(effects: odds ratios on the daily transitions of the WHO scale)", fontsize=10)
    return fig
