"""The registered trials at a glance: how many, how many randomized, controlled, blinded; by design, status, size
and country ("of 36 registered MSC trials, 9 randomized, 4 blinded, median size 40").

References
----------
Cochrane Handbook for Systematic Reviews of Interventions, version 6.4 (2023), chapter 4.3 (searching trial
registries) and chapter 8 (risk of bias: randomization, blinding).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from equipoise.evidence.registry_linking import RecordLink
from equipoise.figures.registry_summary import registry_summary_plot

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SIZE_BANDS = ((0, 20, "1-20"), (21, 50, "21-50"), (51, 100, "51-100"), (101, 300, "101-300"),
              (301, 10**9, "over 300"))


@dataclass(frozen=True)
class TrialFacts:
    """The few facts of one record a summary counts (the store reads them without parsing whole records)."""

    id: str
    registry: str
    status: str | None
    design_class: str
    randomized: bool | None
    controlled: bool | None
    blinded: bool | None
    single_arm: bool | None
    enrollment: int | None
    countries: tuple[str, ...]


@dataclass(frozen=True)
class RegistrySummary:
    """Counts over a set of registered trials; ``links`` are the same trial registered twice (counted once in
    ``distinct_trials``)."""

    label: str
    trials: int
    randomized: int
    controlled: int
    blinded: int
    single_arm: int
    median_size: float | None
    with_size: int
    by_design: dict[str, int]
    by_status: dict[str, int]
    by_size: dict[str, int]
    by_country: dict[str, int]
    by_registry: dict[str, int]
    links: tuple[RecordLink, ...] = ()
    distinct_trials: int = 0

    @property
    def headline(self) -> str:
        size = "no size stated" if self.median_size is None else f"median size {self.median_size:g}"
        return (f"of {self.trials} registered {self.label}trials, {self.randomized} randomized, {self.blinded} "
                f"blinded, {self.controlled} controlled, {self.single_arm} single-arm; {size}")

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "headline": self.headline, "trials": self.trials,
                "distinct_trials": self.distinct_trials, "randomized": self.randomized,
                "controlled": self.controlled, "blinded": self.blinded, "single_arm": self.single_arm,
                "median_size": self.median_size, "with_size": self.with_size, "by_design": self.by_design,
                "by_status": self.by_status, "by_size": self.by_size, "by_country": self.by_country,
                "by_registry": self.by_registry, "links": [link.to_dict() for link in self.links],
                "design_disagreements": [link.to_dict() for link in self.links if link.disagreements]}

    def __str__(self) -> str:
        lines = [self.headline[0].upper() + self.headline[1:] + "."]
        if self.links:
            lines.append(f"{self.distinct_trials} distinct trials: {len(self.links)} registered twice.")
        for title, counts in (("design", self.by_design), ("status", self.by_status), ("size", self.by_size),
                              ("country", self.by_country), ("registry", self.by_registry)):
            lines.append(f"\nBy {title}:")
            width = max((len(k) for k in counts), default=0)
            lines += [f"  {key.ljust(width)}  {value:>6}" for key, value in counts.items()]
        if self.links:
            lines.append("\nSame trial, two registrations:")
            lines += [f"  {link}" for link in self.links]
        return "\n".join(lines)

    def plot(self) -> Figure:
        """Four bar charts: design, status, size and country (the ten most frequent)."""
        return registry_summary_plot(self)


def summarise(facts: Iterable[TrialFacts], label: str = "", links: tuple[RecordLink, ...] = ()) -> RegistrySummary:
    """Count the trials; ``label`` names them in the headline ("MSC " -> "of 36 registered MSC trials")."""
    rows = list(facts)
    sizes = [r.enrollment for r in rows if r.enrollment is not None]
    by_size: Counter[str] = Counter()
    for size in sizes:
        by_size[next(name for low, high, name in SIZE_BANDS if low <= size <= high)] += 1
    countries: Counter[str] = Counter(c for r in rows for c in r.countries)
    duplicates = {max(link.ids) for link in links}
    return RegistrySummary(
        label=label, trials=len(rows), randomized=sum(r.randomized is True for r in rows),
        controlled=sum(r.controlled is True for r in rows), blinded=sum(r.blinded is True for r in rows),
        single_arm=sum(r.single_arm is True for r in rows),
        median_size=float(statistics.median(sizes)) if sizes else None, with_size=len(sizes),
        by_design=_ordered(Counter(r.design_class for r in rows)),
        by_status=_ordered(Counter(_status_label(r.status) for r in rows)),
        by_size={name: by_size[name] for _, _, name in SIZE_BANDS if by_size[name]}
        | ({"not stated": len(rows) - len(sizes)} if len(rows) > len(sizes) else {}),
        by_country=_ordered(countries) | ({"not stated": sum(not r.countries for r in rows)}
                                          if any(not r.countries for r in rows) else {}),
        by_registry=_ordered(Counter(r.registry for r in rows)), links=links,
        distinct_trials=len({r.id for r in rows} - duplicates))


def _status_label(status: str | None) -> str:
    """A v2 status as it is; a registry's own words (ICTRP's "Not recruiting") shortened for tables and charts."""
    if status is None:
        return "not stated"
    if status.isupper():
        return status
    words = status[:1].upper() + status[1:].lower()  # "Not Recruiting" and "Not recruiting" are one status
    return f"as registered: {words[:24]}" + ("..." if len(words) > 24 else "")


def _ordered(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
