"""The same trial registered twice (an NCT and a ChiCTR id), and where its registrations disagree on the design.

Two records of different registries are linked when one lists the other's id among its secondary ids (or both
list the same registry id), or when their titles are near-identical after normalisation (token-set Jaccard
similarity, with the common spellings of COVID-19 and MSC made one) and their sponsors match. A link then
compares the designs: randomized, controlled and against what, single-arm, blinded, planned size.

References
----------
WHO ICTRP, "Bridging": linking records of the same trial in several registries by secondary ids and titles,
https://www.who.int/tools/clinical-trials-registry-platform/network/bridging.
Jaccard P. (1912), The distribution of the flora in the alpine zone, New Phytologist 11(2):37-50.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from equipoise.evidence.registry_record import RegistryRecord

REGISTRY_ID = re.compile(r"^(NCT\d{8}|ChiCTR[-\w]*\d{6,}|IRCT\d+N\d+|ISRCTN\d{8}|EUCTR\d{4}-\d{6}-\d{2}.*|"
                         r"\d{4}-\d{6}-\d{2}|CTRI/.+|ACTRN\d{14}|DRKS\d{8}|JPRN-.+|KCT\d+|PACTR\d+|TCTR\d+)$")
SYNONYMS = (
    (r"covid[- ]?19|2019[- ]?ncov|sars[- ]?cov[- ]?2|novel coronavirus(?: pneumonia)?|corona ?virus disease(?: 2019)?|"
     r"\bncp\b", " covid19 "),
    (r"mesenchymal(?: (?:stem|stromal) cells?)?|\bmscs?\b", " msc "),
    (r"umbilical[- ]cord|\buc\b", " uc "),
)
STOP_WORDS = frozenset({
    "a", "an", "and", "the", "of", "in", "on", "for", "with", "to", "by", "study", "trial", "clinical", "treatment",
    "treating", "patients", "patient", "human", "severe", "effect", "efficacy", "safety"})
TITLE_THRESHOLD = 0.6
TITLE_ALONE_THRESHOLD = 0.85
SIZE_TOLERANCE = 0.2


@dataclass(frozen=True)
class RecordLink:
    """Two records of one trial; ``reasons`` say why they were linked, ``disagreements`` where designs differ."""

    ids: tuple[str, str]
    reasons: tuple[str, ...]
    disagreements: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"ids": list(self.ids), "reasons": list(self.reasons), "disagreements": list(self.disagreements)}

    def __str__(self) -> str:
        text = f"{self.ids[0]} = {self.ids[1]} ({'; '.join(self.reasons)})"
        if self.disagreements:
            text += "\n" + "\n".join(f"  DISAGREE: {d}" for d in self.disagreements)
        return text


def normalised_title_tokens(title: str | None) -> frozenset[str]:
    if not title:
        return frozenset()
    text = title.lower()
    for pattern, replacement in SYNONYMS:
        text = re.sub(pattern, replacement, text)
    return frozenset(t for t in re.findall(r"[a-z0-9]+", text) if t not in STOP_WORDS and len(t) > 1)


def normalised_sponsor(name: str | None) -> frozenset[str]:
    if not name:
        return frozenset()
    words = re.findall(r"[a-z0-9]+", name.lower())
    return frozenset(w for w in words if w not in {"the", "of", "china", "ltd", "inc", "co", "and"})


def title_similarity(a: RegistryRecord, b: RegistryRecord) -> float:
    best = 0.0
    for ta in (a.title, a.official_title):
        for tb in (b.title, b.official_title):
            x, y = normalised_title_tokens(ta), normalised_title_tokens(tb)
            if x and y:
                best = max(best, len(x & y) / len(x | y))
    return best


def link_pair(a: RegistryRecord, b: RegistryRecord) -> RecordLink | None:
    """The link between two records, or ``None`` when nothing says they are one trial."""
    if a.id == b.id:
        return None
    reasons: list[str] = []
    ids_a = {s for s in a.secondary_ids if REGISTRY_ID.match(s)}
    ids_b = {s for s in b.secondary_ids if REGISTRY_ID.match(s)}
    if b.id in ids_a:
        reasons.append(f"{a.id} lists {b.id} as a secondary id")
    if a.id in ids_b:
        reasons.append(f"{b.id} lists {a.id} as a secondary id")
    shared = ids_a & ids_b
    if shared:
        reasons.append(f"both list {', '.join(sorted(shared))}")
    similarity = title_similarity(a, b)
    sponsors_a, sponsors_b = normalised_sponsor(a.sponsor), normalised_sponsor(b.sponsor)
    same_sponsor = bool(sponsors_a and sponsors_b) and (sponsors_a <= sponsors_b or sponsors_b <= sponsors_a)
    if similarity >= TITLE_ALONE_THRESHOLD or (similarity >= TITLE_THRESHOLD and same_sponsor):
        reasons.append(f"titles {similarity:.0%} alike" + (" and the same sponsor" if same_sponsor else ""))
    if not reasons:
        return None
    first, second = sorted((a, b), key=lambda r: r.id)
    return RecordLink((first.id, second.id), tuple(reasons), design_disagreements(first, second))


def design_disagreements(a: RegistryRecord, b: RegistryRecord) -> tuple[str, ...]:
    """Where two registrations of one trial describe different designs (each side only where it says)."""
    out: list[str] = []
    ca, cb = a.classification, b.classification
    for name, va, vb in (("randomized", ca.randomized, cb.randomized), ("controlled", ca.controlled, cb.controlled),
                         ("single-arm", ca.single_arm, cb.single_arm), ("blinded", ca.blinded, cb.blinded)):
        if va is not None and vb is not None and va != vb:
            out.append(f"{name}: {a.id} {'yes' if va else 'no'}, {b.id} {'yes' if vb else 'no'}")
    if ca.control and cb.control and ca.control != cb.control and "unspecified" not in (ca.control, cb.control):
        out.append(f"control: {a.id} {ca.control}, {b.id} {cb.control}")
    if a.masking and b.masking and a.masking != b.masking and (ca.blinded == cb.blinded):
        out.append(f"masking: {a.id} {a.masking}, {b.id} {b.masking}")
    if a.enrollment and b.enrollment and abs(a.enrollment - b.enrollment) > SIZE_TOLERANCE * max(
            a.enrollment, b.enrollment):
        out.append(f"size: {a.id} {a.enrollment}, {b.id} {b.enrollment}")
    return tuple(out)


def find_links(records: Sequence[RegistryRecord]) -> tuple[RecordLink, ...]:
    """Every link among the records (pairs of different registries; quadratic, meant for a search's result)."""
    links = []
    for a, b in combinations(records, 2):
        if a.registry == b.registry:
            continue
        link = link_pair(a, b)
        if link is not None:
            links.append(link)
    return tuple(sorted(links, key=lambda link: link.ids))


def linked_ids(links: Iterable[RecordLink]) -> dict[str, set[str]]:
    """Each id's other registrations (through any chain of links)."""
    groups: dict[str, set[str]] = {}
    for link in links:
        group = groups.get(link.ids[0], {link.ids[0]}) | groups.get(link.ids[1], {link.ids[1]})
        for member in group:
            groups[member] = group
    return {key: value - {key} for key, value in groups.items()}
