"""WHO ICTRP's free-text fields read into ClinicalTrials.gov's enums: study design, phase, target size, status.

Each source registry writes these fields its own way, and ICTRP passes them on as text:

- ClinicalTrials.gov rows: "Allocation: Randomized. Intervention model: Parallel Assignment. ... Masking: Quadruple
  (Participant, Care Provider, Investigator, Outcomes Assessor)."
- ChiCTR: "Parallel", "Single arm", "Non randomized control", "Randomized parallel controlled trial"; target size
  "Experimental group:30;Control group:30;".
- IRCT: "Randomization: Randomized, Blinding: Double blinded, Placebo: Used, Assignment: Parallel, ...".
- EU CTR: "Controlled: yes Randomised: yes Open: no Single blind: no Double blind: yes Parallel group: yes ...".
- ISRCTN: "Randomised controlled trial", "Interventional randomised parallel trial (Treatment)".

Every parser returns its value and, when the text says something it cannot read, a note that says so (a value
that is simply absent is ``None`` without a note).

References
----------
WHO ICTRP, "International Standards for Clinical Trial Registries" (2018), the trial registration data set
items 15 (study type: design), 16 (phase), 20 (target sample size), 21 (recruitment status).
"""

from __future__ import annotations

import datetime as dt
import re

ROMAN = {"I": "1", "II": "2", "III": "3", "IV": "4"}
PHASE_NUMBERS = {"0": "EARLY_PHASE1", "1": "PHASE1", "2": "PHASE2", "3": "PHASE3", "4": "PHASE4"}


def parse_allocation(text: str | None) -> tuple[str | None, str | None]:
    if not text or not text.strip():
        return None, None
    t = text.lower()
    if re.search(r"randomi[sz](?:ed|ation)\s*:\s*(?:no|n/a|na|not applicable)\b", t) or re.search(
            r"non[- ]?randomi[sz]|not randomi[sz]|allocation\s*:\s*non", t):
        return "NON_RANDOMIZED", None
    if re.search(r"single[- ]?(?:arm|group)|case series|allocation\s*:\s*n/?a\b", t):
        return "NA", None
    if re.search(r"randomi[sz]", t):
        return "RANDOMIZED", None
    return None, f"study design {text.strip()!r}: allocation not stated"


def parse_masking(text: str | None) -> tuple[str | None, str | None]:
    if not text or not text.strip():
        return None, None
    t = text.lower()
    eu_double = re.search(r"double blind\s*:\s*(yes|no)", t)
    eu_single = re.search(r"single blind\s*:\s*(yes|no)", t)
    eu_open = re.search(r"\bopen\s*:\s*(yes|no)", t)
    if eu_double or eu_single or eu_open:  # EU CTR's yes/no list
        if eu_double and eu_double.group(1) == "yes":
            return "DOUBLE", None
        if eu_single and eu_single.group(1) == "yes":
            return "SINGLE", None
        if eu_open and eu_open.group(1) == "yes":
            return "NONE", None
    for word, enum in (("quadruple", "QUADRUPLE"), ("triple", "TRIPLE"), ("double", "DOUBLE"), ("single", "SINGLE")):
        if re.search(rf"\b{word}[- ]?(?:blind|mask|\()", t) or re.search(rf"masking\s*:\s*{word}\b", t) or re.search(
                rf"blinding\s*:\s*{word}", t):
            return enum, None
    if re.search(r"masking\s*:\s*none|open[- ]label|\bopen\b|not blinded|blinding\s*:\s*(?:no|not|none)|unblinded", t):
        return "NONE", None
    return None, f"study design {text.strip()!r}: masking not stated"


def parse_model(text: str | None) -> str | None:
    if not text:
        return None
    t = text.lower()
    if re.search(r"single[- ]?(?:arm|group)|case series", t):
        return "SINGLE_GROUP"
    if re.search(r"cross[- ]?over\s*:\s*yes|cross[- ]?over(?! ?:)", t):
        return "CROSSOVER"
    if re.search(r"factorial", t):
        return "FACTORIAL"
    if re.search(r"sequential", t):
        return "SEQUENTIAL"
    if re.search(r"parallel(?: group)?\s*:\s*yes|parallel(?! group ?:)", t):
        return "PARALLEL"
    return None


def parse_phases(text: str | None) -> tuple[tuple[str, ...], str | None]:
    """Phase text -> v2 phases: "Phase 1/Phase 2", "Phase I/II", "2-3", "0", "N/A", EU CTR's yes/no list."""
    if not text or not text.strip():
        return (), None
    t = text.strip()
    low = t.lower()
    if re.fullmatch(r"(?:not applicable|n/?a|none|phase n/a|retrospective study)", low):
        return ("NA",), None
    if "(phase i)" in low or "(phase ii)" in low:  # EU CTR: "Human pharmacology (Phase I): yes ..."
        answers = re.findall(r"\(phase (iv|iii|ii|i)\)\s*:\s*(yes|no)", low)
        found = [PHASE_NUMBERS[ROMAN[roman.upper()]] for roman, answer in answers if answer == "yes"]
        return tuple(sorted(set(found))), None if found else f"phase {t!r}: no phase answered yes"
    if re.fullmatch(r"early phase ?(?:1|i)", low):
        return ("EARLY_PHASE1",), None
    tokens = re.findall(r"\b(iv|iii|ii|i|[0-4])\b", re.sub(r"phase", " ", low))
    if not tokens or re.search(r"[a-z]{4,}", re.sub(r"phase|early|and|/", "", low)):
        return (), f"phase {t!r} not understood"
    numbers = sorted({ROMAN.get(tok.upper(), tok) for tok in tokens})
    return tuple(PHASE_NUMBERS[n] for n in numbers), None


def parse_target_size(text: str | None) -> tuple[int | None, str | None]:
    """"60", "60;", "Experimental group:30;Control group:30;" (ChiCTR: summed), "Target size: 40"."""
    if not text or not text.strip():
        return None, None
    t = text.strip()
    if re.fullmatch(r"\d+\s*;?", t):
        return int(t.rstrip("; ")), None
    groups = re.findall(r"[^:;]+:\s*(\d+)\s*(?:;|$)", t)
    if groups and len(groups) == len([p for p in t.split(";") if p.strip()]):
        return sum(int(g) for g in groups), None
    numbers = re.findall(r"\d+", t)
    if len(numbers) == 1:
        return int(numbers[0]), None
    return None, f"target size {t!r} not understood"


STATUS_WORDS = (
    (r"not yet recruiting|pending|prospective", "NOT_YET_RECRUITING"),
    (r"not recruiting|recruitment completed|authorised-recruitment may be ongoing or finished", None),
    (r"recruiting|ongoing", "RECRUITING"),
    (r"completed|complete", "COMPLETED"),
    (r"terminated|stopped", "TERMINATED"),
    (r"withdrawn|cancelled", "WITHDRAWN"),
    (r"suspended", "SUSPENDED"),
)


def parse_status(text: str | None) -> tuple[str | None, str | None]:
    if not text or not text.strip():
        return None, None
    low = text.strip().lower()
    for pattern, status in STATUS_WORDS:
        if re.search(pattern, low):
            if status is None:
                return None, f"status {text.strip()!r} does not say whether the trial is ongoing or completed"
            return status, None
    return None, f"status {text.strip()!r} not understood"


def parse_study_type(text: str | None) -> tuple[str | None, str | None]:
    if not text or not text.strip():
        return None, None
    low = text.lower()
    if "observational" in low or "cohort" in low or "case-control" in low or "epidemiolog" in low:
        return "OBSERVATIONAL", None
    if "expanded access" in low:
        return "EXPANDED_ACCESS", None
    if re.search(r"interventional|intervention|treatment|prevention|randomi[sz]", low):
        return "INTERVENTIONAL", None
    return None, f"study type {text.strip()!r} not understood"


DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%Y/%m/%d", "%d %B %Y", "%B %d, %Y", "%d-%m-%Y", "%Y%m%d")


def parse_date(text: str | None, what: str) -> tuple[str | None, str | None]:
    """ICTRP dates ("2020-02-17", "17/02/2020", "2020/02/17", "17 February 2020") -> ISO; a time part is dropped."""
    if not text or not text.strip():
        return None, None
    t = text.strip().split("T")[0].split(" 00:00")[0].strip()
    if re.fullmatch(r"\d{4}(-\d{2})?", t):
        return t, None
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(t, fmt).date().isoformat(), None
        except ValueError:
            continue
    return None, f"{what} {text.strip()!r} is not a date"


def split_list(text: str | None) -> tuple[str, ...]:
    """ICTRP's multi-valued cells: separated by ';', '<br>' or new lines."""
    if not text:
        return ()
    parts = re.split(r";|<br\s*/?>|\n", text)
    return tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))
