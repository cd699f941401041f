"""Simulated operating characteristics: the probability of stopping at each look (for efficacy, for futility)
beside the distribution of the sample size at stop; and the power curve, the rejection probability and the
expected sample size against the true effect.

Drawn for ``OperatingCharacteristics.plot()`` and ``PowerCurve.plot()`` (``equipoise simulate protocol|curve
--plot``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from equipoise.simulate.group_sequential import OperatingCharacteristics
    from equipoise.simulate.power_curve import PowerCurve


def _figure(ncols: int) -> tuple[Any, Any]:
    import matplotlib  # heavy: loaded only when a picture is asked for

    matplotlib.use("Agg")  # files only; no display needed
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5 * ncols, 3.8), layout="constrained")
    return fig, fig.subplots(1, ncols)


def operating_characteristics_plot(oc: OperatingCharacteristics) -> Any:
    """Stopping probabilities per look (efficacy and futility stacked) and the distribution of the sample size."""
    fig, (ax1, ax2) = _figure(2)
    looks = list(range(1, len(oc.stop_probability_by_look) + 1))
    ax1.bar(looks, oc.efficacy_by_look, label="efficacy", color="#2b8cbe")
    ax1.bar(looks, oc.futility_by_look, bottom=oc.efficacy_by_look, label="futility", color="#fdae6b")
    ax1.set_xlabel("look")
    ax1.set_ylabel("probability of stopping")
    ax1.set_xticks(looks)
    ax1.legend()
    what = "type I error" if oc.null else "power"
    ax1.set_title(f"{what} {oc.rejection_probability:.3f} ± {oc.mc_se:.3f}")
    sizes = [float(k) for k in oc.n_distribution]
    ax2.bar(range(len(sizes)), list(oc.n_distribution.values()), color="#636363")
    ax2.set_xticks(range(len(sizes)), [f"{s:g}" for s in sizes], rotation=45 if len(sizes) > 6 else 0)
    ax2.set_xlabel("sample size at stop")
    ax2.set_ylabel("probability")
    ax2.set_title(f"expected sample size {oc.expected_n:.1f}")
    return fig


def power_curve_plot(curve: PowerCurve) -> Any:
    """P(reject H0) with +/- 2 Monte Carlo SE against the true effect, beside the expected sample size."""
    fig, (ax1, ax2) = _figure(2)
    ax1.errorbar(curve.effects, curve.rejection_probability, yerr=[2 * s for s in curve.mc_se], marker="o")
    ax1.set_xlabel(curve.axis_label())
    ax1.set_ylabel("P(reject H0): type I error or power")
    if curve.comparison:
        fig.suptitle(f"{curve.protocol}: {curve.comparison}, {curve.outcome}; {curve.n_trials:,} trials per point",
                     fontsize=10)
    ax1.set_ylim(0, 1)
    ax1.grid(alpha=0.3)
    ax2.plot(curve.effects, curve.expected_n, marker="o", color="#636363")
    ax2.set_xlabel(curve.axis_label())
    ax2.set_ylabel("expected sample size (two arms)")
    ax2.grid(alpha=0.3)
    return fig
