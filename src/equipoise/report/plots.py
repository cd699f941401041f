"""Figures for the committee's reports: matplotlib Figures built from result objects and tables.

Each function returns a Figure; ``figure_svg`` turns one into inline SVG text for the HTML reports.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # reports are rendered without a display
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

if TYPE_CHECKING:
    from equipoise.analyze.interim import InterimResult
    from equipoise.analyze.kaplan_meier import CumulativeIncidence, KaplanMeier
    from equipoise.analyze.km_bands import KMBand

ARM_COLOURS = ["#1f5fa8", "#c2571a", "#3b8c3b", "#7a4fa0", "#8c6d1f"]
POOLED = "#4d4d4d"
plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
                     "svg.hashsalt": "equipoise", "svg.fonttype": "none"})


def figure_svg(fig: Figure) -> str:
    """Inline SVG of a figure (then closed), without the XML prologue, for embedding in HTML."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def who_stacked_bars(counts: Mapping[str, Mapping[str, Sequence[int]]], levels: Sequence[int],
                     labels: Mapping[int, str] | None = None, title: str = "WHO clinical progression scale") -> Figure:
    """Stacked 100% bars of the WHO scale per group (arm or pooled) and day: ``counts[day][group]`` holds the
    count per level in ``levels`` order. Better (lower) levels in cool colours, death in black."""
    days = list(counts)
    groups = list(next(iter(counts.values())))
    cmap = plt.get_cmap("RdYlBu_r")
    colours = [cmap(i / max(1, len(levels) - 2)) for i in range(len(levels) - 1)] + ["#111111"]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(days) * len(groups) + 1.4))
    y = 0.0
    ticks, ticklabels = [], []
    for day in days:
        for group in groups:
            c = np.asarray(counts[day][group], float)
            total = c.sum()
            left = 0.0
            for j, v in enumerate(c):
                share = v / total if total else 0.0
                ax.barh(y, share, left=left, color=colours[j], edgecolor="white", linewidth=0.4, height=0.8)
                if share >= 0.06:
                    ax.text(left + share / 2, y, f"{100 * share:.0f}", ha="center", va="center", fontsize=7,
                            color="white" if j in (0, len(levels) - 1) or j > len(levels) * 0.7 else "black")
                left += share
            ticks.append(y)
            ticklabels.append(f"{day} · {group} (n={int(total)})")
            y += 1
        y += 0.5
    ax.set_yticks(ticks, ticklabels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("proportion of patients (%) at each level; lower levels are better")
    handles = [Rectangle((0, 0), 1, 1, color=colours[j]) for j in range(len(levels))]
    names = [f"{lv}" + (f" {labels[lv][:28]}" if labels and lv in labels else "") for lv in levels]
    ax.legend(handles, names, ncol=4, fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.5 / (y + 1)),
              frameon=False)
    ax.set_title(title, loc="left")
    return fig


def day_ticks(end: float, max_intervals: int = 8) -> npt.NDArray[np.float64]:
    """Whole-day ticks from 0 to at most ``end``: weekly steps (1, 2, 7, 14 or 28 days) up to 8 x 28 days, as a
    trial's schedule reads; beyond that matplotlib's round integer steps (1, 2, 5 x 10^k)."""
    for step in (1, 2, 7, 14, 28):
        if end / step <= max_intervals:
            return np.arange(0.0, math.floor(end) + 1, step)
    ticks = np.asarray(MaxNLocator(nbins=max_intervals, steps=[1, 2, 5, 10], integer=True).tick_values(0, end),
                       dtype=np.float64)
    return ticks[(ticks >= 0) & (ticks <= end)]


def km_plot(curves: Mapping[str, KaplanMeier], *, title: str, xlabel: str = "days since randomisation",
            incidence: bool = False, horizon: float | None = None,
            aalen_johansen: Mapping[str, CumulativeIncidence] | None = None,
            bands: Mapping[str, KMBand] | None = None) -> Figure:
    """Kaplan–Meier curves with their pointwise 95% band and a numbers-at-risk table underneath, at whole-day
    ticks (:func:`day_ticks`). With
    ``incidence`` the curves are 1 − S(t); with ``aalen_johansen`` the competing-risk cumulative incidence is
    drawn instead of the KM complement. With ``bands`` (simultaneous bands from ``km_confidence_band``) the
    shading is the simultaneous band over its range and the pointwise interval is drawn as dotted lines; a note
    under the title says which is which."""
    fig = plt.figure(figsize=(7, 4.6))
    ax = fig.add_axes((0.17, 0.32, 0.78, 0.6))
    tab = fig.add_axes((0.17, 0.04, 0.78, 0.16))
    end = horizon or max(float(c.time.max()) for c in curves.values())
    grid = day_ticks(end)
    for i, (name, km) in enumerate(curves.items()):
        colour = ARM_COLOURS[i % len(ARM_COLOURS)]
        t = np.concatenate([[0.0], km.time])
        if aalen_johansen is not None and name in aalen_johansen:
            cif = aalen_johansen[name]
            tt = np.concatenate([[0.0], cif.time])
            ax.step(tt, np.concatenate([[0.0], cif.incidence]), where="post", color=colour, label=name)
            ax.fill_between(tt, np.concatenate([[0.0], np.nan_to_num(cif.lower, nan=0.0)]),
                            np.concatenate([[0.0], np.nan_to_num(cif.upper, nan=0.0)]), step="post", color=colour,
                            alpha=0.15, linewidth=0)
        else:
            s = np.concatenate([[1.0], km.surv])
            lo = np.concatenate([[1.0], np.nan_to_num(km.lower, nan=0.0)])
            hi = np.concatenate([[1.0], np.nan_to_num(km.upper, nan=1.0)])
            if incidence:
                s, lo, hi = 1 - s, 1 - hi, 1 - lo
            ax.step(t, s, where="post", color=colour, label=name)
            band = bands.get(name) if bands is not None else None
            if band is None:
                ax.fill_between(t, lo, hi, step="post", color=colour, alpha=0.15, linewidth=0)
            else:
                # undefined limits (where S reaches 0) break the dotted lines instead of jumping to 0 or 1
                raw_lo, raw_hi = np.concatenate([[1.0], km.lower]), np.concatenate([[1.0], km.upper])
                for edge in ((1 - raw_hi, 1 - raw_lo) if incidence else (raw_lo, raw_hi)):
                    ax.step(t, edge, where="post", color=colour, linewidth=0.7, linestyle=":")
                bt = np.concatenate([band.time, [band.t_upper]])
                blo, bhi = np.append(band.lower, band.lower[-1]), np.append(band.upper, band.upper[-1])
                if incidence:
                    blo, bhi = 1 - bhi, 1 - blo
                ax.fill_between(bt, blo, bhi, step="post", color=colour, alpha=0.18, linewidth=0)
        for x in grid:
            tab.text(x, -i, str(km.n_at_risk(x)), ha="center", va="center", fontsize=7.5, color=colour)
        tab.text(-0.04 * end, -i, name, ha="right", va="center", fontsize=7.5, color=colour)
    ax.set_xlim(0, end * 1.02)
    ax.set_ylim(0, 1)
    ax.set_xticks(grid)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("cumulative incidence" if incidence or aalen_johansen else "probability without the event")
    ax.set_title(title, loc="left")
    if bands:
        first = next(iter(bands.values()))
        same = len({(b.t_lower, b.t_upper) for b in bands.values()}) == 1
        what = first.description if same else f"{first.label}, over each arm's range"
        ax.text(0, 1.01, f"shaded: {what}; dotted: pointwise {100 * first.conf_level:g}% interval",
                transform=ax.transAxes, fontsize=6.5, va="bottom", color=POOLED)
        ax.set_title(title, loc="left", pad=12)
    ax.legend(frameon=False, loc="best")
    tab.set_xlim(0, end * 1.02)
    tab.set_ylim(-len(curves) + 0.5, 0.5)
    tab.axis("off")
    tab.set_title("number at risk", loc="left", fontsize=8)
    return fig


def forest_plot(rows: Sequence[tuple[str, float, float, float, str]], *, measure: str, favours: tuple[str, str],
                log_scale: bool = True, title: str = "Subgroups") -> Figure:
    """Rows of (label, estimate, low, high, n text); a reference line at 1 (or 0); ``favours`` labels the left
    and right sides."""
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(rows) + 1.4))
    ref = 1.0 if log_scale else 0.0
    for i, (label, est, lo, hi, note) in enumerate(rows):
        heading = not math.isfinite(est)
        if heading:
            ax.text(0, i, label, transform=ax.get_yaxis_transform(), ha="right", va="center", fontweight="bold",
                    fontsize=8)
            continue
        ax.plot([lo, hi], [i, i], color=POOLED, linewidth=1.2)
        ax.plot([est], [i], marker="s", color=ARM_COLOURS[0], markersize=5)
        ax.text(-0.02, i, f"{label}  {note}", transform=ax.get_yaxis_transform(), ha="right", va="center",
                fontsize=8)
        ax.text(1.02, i, f"{est:.2f} ({lo:.2f}–{hi:.2f})", transform=ax.get_yaxis_transform(), ha="left",
                va="center", fontsize=8)
    ax.axvline(ref, color="black", linewidth=0.8)
    if log_scale:
        ax.set_xscale("log")
        finite = [v for r in rows for v in r[2:4] if math.isfinite(v) and v > 0]
        ticks = [t for t in (0.1, 0.25, 0.5, 1, 2, 4, 8, 16) if min(finite, default=0.5) / 1.5 <= t
                 <= max(finite, default=2) * 1.5]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_yticks([])
    ax.invert_yaxis()
    ax.spines["left"].set_visible(False)
    ax.set_xlabel(f"{measure}   ← favours {favours[0]}  |  favours {favours[1]} →")
    ax.set_title(title, loc="left")
    return fig


def enrolment_plot(dates: pd.Series, sites: pd.Series, target: int | None = None) -> Figure:
    """Cumulative enrolment over time, stacked by site."""
    df = pd.DataFrame({"date": pd.to_datetime(dates), "site": sites.astype(str)})
    days = pd.date_range(df["date"].min(), df["date"].max(), freq="D")
    fig, ax = plt.subplots(figsize=(7, 3.2))
    cum = np.zeros(len(days))
    for i, (site, g) in enumerate(sorted(df.groupby("site"), key=lambda kv: kv[1]["date"].min())):
        counts = g.groupby("date").size().reindex(days, fill_value=0).cumsum().to_numpy()
        ax.fill_between(days, cum, cum + counts, step="post", alpha=0.85, label=f"{site} ({len(g)})",
                        color=ARM_COLOURS[i % len(ARM_COLOURS)] if i < 5 else None)
        cum = cum + counts
    if target:
        ax.axhline(target, color="black", linestyle="--", linewidth=0.8)
        ax.annotate(f"target {target} ", (1.0, target), xycoords=("axes fraction", "data"), va="bottom", ha="right",
                    fontsize=8)
        ax.set_ylim(0, target * 1.12)
    ax.set_ylabel("patients randomised (cumulative)")
    ax.set_title("Enrolment over time by site", loc="left")
    ax.legend(frameon=False, fontsize=7.5, loc="upper left")
    fig.autofmt_xdate()
    return fig


def group_sequential_plot(result: InterimResult) -> Figure:
    """Efficacy and futility bounds (z scale) against the information fraction, with the observed path."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    t = np.array(result.information_rates)
    ax.plot(t, result.upper, marker="o", color="#2e7d32", label="efficacy bound")
    lower = [(ti, v) for ti, v in zip(t, result.lower, strict=True) if v is not None]
    if lower:
        ax.plot([p[0] for p in lower], [p[1] for p in lower], marker="o", color="#c62828",
                label="futility bound (non-binding)" if not result.plan.binding else "futility bound")
    obs_t = [lk.information_fraction for lk in result.looks]
    obs_z = [lk.z for lk in result.looks]
    ax.plot(obs_t, obs_z, marker="D", color="black", linestyle="--", label="observed Z")
    for x, z in zip(obs_t, obs_z, strict=True):
        ax.annotate(f"{z:.2f}", (x, z), textcoords="offset points", xytext=(6, -10), fontsize=8)
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("information fraction")
    ax.set_ylabel("Z (positive favours experimental)")
    ax.set_title(f"Group-sequential monitoring: {result.decision}", loc="left")
    ax.legend(frameon=False, fontsize=8, loc="upper right")
    return fig


def consort_plot(boxes: Mapping[str, str], arms: Sequence[str]) -> Figure:
    """A CONSORT 2010 flow diagram from box texts: ``assessed``, ``excluded``, ``randomised`` and, per arm,
    ``allocated:<arm>``, ``followup:<arm>``, ``analysed:<arm>`` (pooled reports pass a single pseudo-arm)."""
    n = len(arms)
    fig, ax = plt.subplots(figsize=(7.2, 6.4))
    ax.axis("off")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    style = {"boxstyle": "square,pad=0.45", "facecolor": "white", "edgecolor": "black", "linewidth": 0.8}

    def box(x: float, y: float, text: str, ha: str = "center") -> None:
        ax.text(x, y, text, ha=ha, va="center", fontsize=6.8, bbox=style, linespacing=1.3)

    def arrow(x0: float, y0: float, x1: float, y1: float) -> None:
        ax.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "-|>", "linewidth": 0.8})

    box(0.42, 0.96, boxes["assessed"])
    arrow(0.42, 0.935, 0.42, 0.735)
    ax.plot([0.42, 0.56], [0.85, 0.85], color="black", linewidth=0.8)
    box(0.57, 0.85, boxes["excluded"], ha="left")
    box(0.42, 0.71, boxes["randomised"])
    xs = [0.5] if n == 1 else list(np.linspace(0.3, 0.78, n))
    for x, a in zip(xs, arms, strict=True):
        arrow(0.42, 0.69, x, 0.6)
        box(x, 0.53, boxes[f"allocated:{a}"])
        if f"followup:{a}" in boxes:
            arrow(x, 0.47, x, 0.38)
            box(x, 0.33, boxes[f"followup:{a}"])
            arrow(x, 0.29, x, 0.17)
            box(x, 0.12, boxes[f"analysed:{a}"])
    for y, label in ((0.53, "Allocation"), (0.33, "Follow-up"), (0.12, "Analysis")):
        ax.text(0.0, y, label, rotation=90, va="center", ha="left", fontsize=8, fontweight="bold", color="#1f5fa8")
    return fig
