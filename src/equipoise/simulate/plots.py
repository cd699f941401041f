"""Pictures of operating characteristics: stopping by look, sample-size distribution, power against effect."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from equipoise.simulate.group_sequential import OperatingCharacteristics


def _figure(ncols: int) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5 * ncols, 3.8), layout="constrained")
    return fig, fig.subplots(1, ncols)


def plot_operating_characteristics(oc: OperatingCharacteristics) -> Any:
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


@dataclass(frozen=True)
class PowerCurve:
    """Rejection probability and expected sample size against the true effect (an OC curve)."""

    effect_name: str
    effects: Sequence[float]
    rejection_probability: Sequence[float]
    mc_se: Sequence[float]
    expected_n: Sequence[float]

    def to_dict(self) -> dict[str, Any]:
        return {"effect": self.effect_name, "effects": list(self.effects),
                "rejection_probability": list(self.rejection_probability), "mc_se": list(self.mc_se),
                "expected_n": list(self.expected_n)}

    def __str__(self) -> str:
        lines = [f"{self.effect_name:>8}  rejection   (MC SE)  expected N"]
        for e, p, s, n in zip(self.effects, self.rejection_probability, self.mc_se, self.expected_n, strict=True):
            lines.append(f"{e:>8g}  {p:9.4f}  ({s:.4f})  {n:10.1f}")
        return "\n".join(lines)

    def plot(self) -> Any:
        fig, (ax1, ax2) = _figure(2)
        ax1.errorbar(self.effects, self.rejection_probability, yerr=[2 * s for s in self.mc_se], marker="o")
        ax1.set_xlabel(self.effect_name)
        ax1.set_ylabel("probability of rejecting H0")
        ax1.set_ylim(0, 1)
        ax1.grid(alpha=0.3)
        ax2.plot(self.effects, self.expected_n, marker="o", color="#636363")
        ax2.set_xlabel(self.effect_name)
        ax2.set_ylabel("expected sample size")
        ax2.grid(alpha=0.3)
        return fig
