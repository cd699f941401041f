"""The seed story's picture (``SeedStory.plot()``, ``equipoise demo story --plot``, the ``/story`` page): three
panels side by side: the single-arm case series' number of patients improved with no effect and with a real
one, the randomized trial's boundaries with the simulated first look, and the pooled evidence as trials
reported (a cumulative meta-analysis, Lau et al. 1992).

Every text is an English template with %(name)s fields, passed through ``translate`` (the pages give their
gettext, so the picture speaks the reader's language; the messages are in the web catalogues).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from equipoise.simulate.claim_check import rarity

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from equipoise.report.story import SeedStory

COLOURS = ("#636363", "#2b8cbe")
# fonts with Chinese glyphs, tried after the default one for the translated picture (matplotlib falls back per
# glyph; only installed ones are named, so that no missing font is logged)
CJK_FONTS = ("Noto Sans CJK SC", "Droid Sans Fallback", "WenQuanYi Zen Hei", "Source Han Sans SC")


def _english(message: str) -> str:
    return message


def _studies(p: float, _: Callable[[str], str], rare: Callable[[float], str]) -> str:
    """'3.05% of studies', '1 in 73,000 studies'."""
    text = rare(p)
    if text.endswith("%"):
        return _("%(share)s of studies") % {"share": text}
    return _("%(one_in)s studies") % {"one_in": text}


def seed_story_figure(story: SeedStory, translate: Callable[[str], str] = _english,
                      rare: Callable[[float], str] = rarity) -> Figure:
    """Three panels: the single-arm study's outcome under each effect, the trial's boundaries with the simulated
    interim Z values, and the cumulative meta-analysis (left empty without evidence). ``rare`` writes a small
    probability as a reader takes it in (``claim_check.rarity``: "1 in 73,000")."""
    import matplotlib  # heavy: loaded only when a picture is asked for

    matplotlib.use("Agg")  # files only
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.font_manager import fontManager

    _ = translate
    installed = {f.name for f in fontManager.ttflist}
    fonts = ["DejaVu Sans", *(f for f in CJK_FONTS if f in installed)]
    with rc_context({"font.family": fonts}):
        fig = Figure(figsize=(15, 5.2), layout="constrained")
        a1, a2, a3 = fig.subplots(1, 3)
        c = story.case_series
        n = c.design.n_patients
        ks = np.arange(n + 1)
        for r, colour in zip(c.results, COLOURS, strict=False):
            a1.plot(ks, r.improved_distribution, marker="o", markersize=3, color=colour,
                    label=_("%(scenario)s: 'all %(n)s' in %(studies)s") % {
                        "scenario": _(r.scenario.label), "n": n, "studies": _studies(r.p_all_improved, _, rare)})
        a1.axvline(n, color="#d7301f", linestyle="--")
        a1.annotate(_("'all %(n)s\nimproved'") % {"n": n}, (n, 0.97), xycoords=("data", "axes fraction"),
                    xytext=(-4, 0), textcoords="offset points", ha="right", va="top", color="#d7301f", fontsize=9)
        a1.set_xlim(max(0, int(min(r.expected_improved for r in c.results)) - 10), n + 1)
        a1.set_xlabel(_("patients improved by day %(day)s (of %(n)s)") % {"day": c.design.claim_day, "n": n})
        a1.set_ylabel(_("share of studies"))
        a1.set_title(_("1. A single-arm study of %(n)s patients") % {"n": n}, fontsize=10)
        a1.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)

        d = story.design.design
        t = np.asarray(d.information_rates, dtype=float)
        a2.plot(t, d.upper, marker="s", color="#1a9850", label=_("stop for benefit above"))
        if d.futility is not None:
            a2.plot(t[:-1], np.asarray(d.futility)[:-1], marker="s", color="#d73027",
                    label=_("futility (non-binding) below"))
        for s, colour in zip(story.interims, COLOURS, strict=False):
            lk = s.result.looks[-1]
            a2.plot([lk.information_fraction], [lk.z], marker="o", markersize=9, color=colour, linestyle="none",
                    label=_("interim, %(scenario)s: Z = %(z)s (%(decision)s)") % {
                        "scenario": _(s.label), "z": f"{lk.z:.2f}", "decision": _(s.result.decision)})
        a2.axhline(0, color="#bbbbbb", linewidth=0.8)
        a2.set_xlim(0, 1.05)
        a2.set_xlabel(_("information fraction (1 = %(n)s patients)") % {"n": story.n_max})
        a2.set_ylabel(_("Z (positive favours stem cells)"))
        a2.set_title(_("2-3. The randomized trial (%(trial)s) and its first look") % {"trial": story.design.trial_id},
                     fontsize=10)
        a2.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)

        steps = [s for s in story.evidence.steps or () if s.pooled is not None] if story.evidence else []
        if story.evidence is not None and steps:
            y = np.arange(len(steps))[::-1]
            est = [s.pooled.estimate for s in steps if s.pooled is not None]
            low = [s.pooled.natural(s.pooled.ci_lb) for s in steps if s.pooled is not None]
            high = [s.pooled.natural(s.pooled.ci_ub) for s in steps if s.pooled is not None]
            a3.errorbar(est, y, xerr=[np.subtract(est, low), np.subtract(high, est)], fmt="D", color="#2b8cbe",
                        ecolor="#2b8cbe", capsize=3)
            a3.set_yticks(y, [f"+ {s.study}" for s in steps])
            a3.axvline(1, color="#999999", linestyle=":")
            a3.set_xscale("log")
            ticks = [v for v in (0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5) if min(low) / 1.5 <= v <= max(high) * 1.5]
            a3.set_xticks(ticks, labels=[f"{v:g}" for v in ticks])
            a3.minorticks_off()
            a3.set_xlabel(_("pooled %(measure)s of death (95%% CI; < 1 favours cells)") % {
                "measure": _(story.evidence.pooled.measure.label)})
            a3.set_title(_("4. The pooled evidence as trials reported"), fontsize=10)
        else:
            a3.set_axis_off()
        fig.suptitle(_("The seed story: what an uncontrolled study can and cannot show"), fontsize=12)
    return fig
