"""Registry import at the scale of all of ClinicalTrials.gov (about 550,000 studies), in bounded memory.

Generates synthetic API v2 studies as a bulk-download-like ZIP (one JSON file per study), then measures in separate
processes (so each peak memory is its own):

- parsing alone: read every entry of the ZIP and ``json.loads`` it (the floor any importer pays);
- ``equipoise evidence import``'s code path: the same reading, then normalising, classifying and writing to DuckDB.

The issue's goal is an import at least half as fast as parsing alone (ratio >= 0.5), memory bounded, and a search
over the store answering in under a second. The anchor is Python's own JSON parser, not R: no R package imports
ClinicalTrials.gov's bulk download into a local store.

``EQUIPOISE_BENCH_REGISTRY_STUDIES`` sets the number of studies: the default, 50,000, keeps ``make bench`` within a
couple of minutes on a small shared machine; the issue's full registry is ``EQUIPOISE_BENCH_REGISTRY_STUDIES=550000``
(about twenty minutes of CPU). Either size also runs at a tenth of it, so the two peak memories show whether memory
stays bounded.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

STUDIES = int(os.environ.get("EQUIPOISE_BENCH_REGISTRY_STUDIES", "50000"))
CONDITIONS = ["COVID-19", "Breast Cancer", "Type 2 Diabetes", "Hypertension", "Asthma", "Depression", "HIV",
              "Stroke", "Heart Failure", "Rheumatoid Arthritis", "Pneumonia, Viral", "ARDS", "Obesity", "Psoriasis"]
DRUGS = ["Metformin", "Pembrolizumab", "Dexamethasone", "Tocilizumab", "Remdesivir", "Atorvastatin", "Sertraline",
         "Insulin glargine", "Adalimumab", "Semaglutide", "Vitamin D", "Aspirin", "Heparin", "Ivermectin"]
WORDS = ["study", "efficacy", "safety", "randomized", "trial", "patients", "with", "of", "in", "treatment", "phase",
         "evaluate", "adults", "children", "open-label", "multicenter", "pilot", "long-term", "effect", "versus"]
COUNTRIES = ["United States", "China", "France", "Germany", "United Kingdom", "Canada", "Spain", "Italy", "Japan",
             "Brazil", "Iran, Islamic Republic of", "Egypt", "Turkey", "Korea, Republic of", "India"]
STATUSES = ["COMPLETED", "RECRUITING", "UNKNOWN", "TERMINATED", "ACTIVE_NOT_RECRUITING", "WITHDRAWN",
            "NOT_YET_RECRUITING"]


def synthetic_study(index: int, rng: random.Random) -> dict[str, object]:
    """One plausible v2 study; about one in a thousand is an MSC-for-COVID-19 trial (what the search looks for)."""
    msc = index % 1000 == 7
    condition = ["COVID-19"] if msc else rng.sample(CONDITIONS, rng.randint(1, 3))
    drug = "Umbilical cord mesenchymal stem cells" if msc else rng.choice(DRUGS)
    n_arms = rng.choice([1, 2, 2, 2, 3])
    arms = [{"label": f"{drug} arm", "type": "EXPERIMENTAL", "description": f"{drug} {rng.randint(1, 100)} mg",
             "interventionNames": [f"Drug: {drug}"]}]
    control = rng.choice(["PLACEBO_COMPARATOR", "ACTIVE_COMPARATOR", "NO_INTERVENTION", "OTHER", "EXPERIMENTAL"])
    for k in range(1, n_arms):
        label = {"PLACEBO_COMPARATOR": "Placebo", "ACTIVE_COMPARATOR": "Standard of care", "NO_INTERVENTION":
                 "No intervention", "OTHER": "Usual care", "EXPERIMENTAL": f"Higher dose {k}"}[control]
        arms.append({"label": label, "type": control, "description": f"{label} as per protocol",
                     "interventionNames": [] if control == "NO_INTERVENTION" else [f"Other: {label}"]})
    year = rng.randint(2000, 2025)
    title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))
    return {
        "protocolSection": {
            "identificationModule": {
                "nctId": f"NCT{index:08d}", "orgStudyIdInfo": {"id": f"ORG-{index}"},
                "briefTitle": f"{drug} for {condition[0]}: {title}", "officialTitle": f"A {title} of {drug}"},
            "statusModule": {
                "overallStatus": rng.choice(STATUSES), "startDateStruct": {"date": f"{year}-{rng.randint(1, 12):02d}"},
                "primaryCompletionDateStruct": {"date": f"{year + 2}-{rng.randint(1, 12):02d}-01"},
                "studyFirstSubmitDate": f"{year}-01-15",
                "lastUpdatePostDateStruct": {"date": f"{year + 3}-06-{rng.randint(1, 28):02d}"}},
            "sponsorCollaboratorsModule": {"leadSponsor": {"name": f"Sponsor {rng.randint(1, 5000)}",
                                                           "class": "OTHER"}},
            "descriptionModule": {"briefSummary": " ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 80)))},
            "conditionsModule": {"conditions": condition, "keywords": rng.sample(WORDS, 3)},
            "designModule": {
                "studyType": "INTERVENTIONAL", "phases": rng.choice([["PHASE1"], ["PHASE2"], ["PHASE3"],
                                                                     ["PHASE2", "PHASE3"], ["NA"]]),
                "designInfo": {"allocation": "NA" if n_arms == 1 else rng.choice(["RANDOMIZED", "NON_RANDOMIZED"]),
                               "interventionModel": "SINGLE_GROUP" if n_arms == 1 else "PARALLEL",
                               "primaryPurpose": "TREATMENT",
                               "maskingInfo": {"masking": rng.choice(["NONE", "DOUBLE", "QUADRUPLE"])}},
                "enrollmentInfo": {"count": rng.randint(10, 2000), "type": rng.choice(["ACTUAL", "ESTIMATED"])}},
            "armsInterventionsModule": {
                "armGroups": arms,
                "interventions": [{"type": "DRUG", "name": drug, "armGroupLabels": [arms[0]["label"]]}]},
            "outcomesModule": {"primaryOutcomes": [{"measure": "Primary outcome", "timeFrame": "28 days"}]},
            "contactsLocationsModule": {"locations": [
                {"facility": f"Site {j}", "city": "City", "country": rng.choice(COUNTRIES)}
                for j in range(rng.randint(1, 4))]},
        },
        "hasResults": rng.random() < 0.2,
    }


def write_bulk_zip(path: Path, studies: int) -> int:
    rng = random.Random(20200216)
    size = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for index in range(studies):
            data = json.dumps(synthetic_study(index, rng))
            size += len(data)
            archive.writestr(f"ctg-studies.json/NCT{index:08d}.json", data)
    return size


PARSE_ONLY = """
import json, resource, sys, time, zipfile
start, cpu = time.perf_counter(), time.process_time()
n = 0
with zipfile.ZipFile(sys.argv[1]) as archive:
    for info in archive.infolist():
        json.loads(archive.read(info))
        n += 1
print(json.dumps({"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu, "records": n,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

IMPORT = """
import json, resource, sys, time
from pathlib import Path
from equipoise.evidence_store import RegistryStore, import_files
start, cpu = time.perf_counter(), time.process_time()
with RegistryStore.open(Path(sys.argv[2])) as store:
    report = import_files([Path(sys.argv[1])], store)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
with RegistryStore.open(Path(sys.argv[2])) as store:
    timings = {}
    for name, kwargs in [("condition+intervention", {"condition": "covid-19", "intervention": "mesenchymal"}),
                         ("...+randomized", {"condition": "covid-19", "intervention": "mesenchymal",
                                             "randomized": True}),
                         ("condition only (count)", {"condition": "asthma"})]:
        t = time.perf_counter()
        found = (len(store.search(**kwargs)) if "count" not in name else store.count_matching(**kwargs))
        timings[name] = [time.perf_counter() - t, found]
print(json.dumps({"seconds": seconds, "cpu": cpu, "records": report.records_in_store, "skipped": report.skipped,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "search": timings}))
"""


def _run(script: str, *args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{done.stderr[-3000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _measure(studies: int, folder: Path) -> dict[str, object]:
    bulk = folder / f"ctg-studies-{studies}.json.zip"
    started = time.perf_counter()
    raw_bytes = write_bulk_zip(bulk, studies)
    generated = time.perf_counter() - started
    parse = _run(PARSE_ONLY, str(bulk))
    store = folder / f"bench-{studies}.duckdb"
    imported = _run(IMPORT, str(bulk), str(store))
    result = {"studies": studies, "raw_mb": raw_bytes / 2**20, "zip_mb": bulk.stat().st_size / 2**20,
              "generated": generated, "parse": parse, "import": imported, "store_mb": store.stat().st_size / 2**20}
    bulk.unlink()
    store.unlink()
    return result


def _f(value: object) -> float:
    assert isinstance(value, int | float)
    return float(value)


def run() -> str:
    """Import at a tenth of the size and at the full size: equal peak memory shows it bounded."""
    with tempfile.TemporaryDirectory() as folder:
        runs = [_measure(size, Path(folder)) for size in (max(STUDIES // 10, 1000), STUDIES)]
    full = runs[-1]
    parse, imported = full["parse"], full["import"]
    assert isinstance(parse, dict)
    assert isinstance(imported, dict)
    searches = imported["search"]
    assert isinstance(searches, dict)
    lines = [
        "## Registry import (ClinicalTrials.gov v2 bulk ZIP)",
        "",
        f"{STUDIES:,} synthetic v2 studies ({_f(full['raw_mb']):,.0f} MiB of JSON, a {_f(full['zip_mb']):,.0f} MiB "
        f"ZIP, generated in {_f(full['generated']):,.0f} s); parsing alone and the import each run in their own "
        "process (peak memory is that process's maximum resident set). Rates are per CPU second (the process's "
        "CPU time, all threads) and per wall-clock second (on a shared machine, wall time includes waiting).",
        "",
        "| studies | | CPU s | wall s | studies per CPU s | studies per wall s | peak memory (MiB) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for result in runs:
        for name, key in (("parsing alone (read entry + json.loads)", "parse"),
                          ("evidence import (parse, classify, DuckDB)", "import")):
            m = result[key]
            assert isinstance(m, dict)
            n = _f(result["studies"])
            lines.append(f"| {int(n):,} | {name} | {_f(m['cpu']):,.1f} | {_f(m['seconds']):,.1f} | "
                         f"{n / _f(m['cpu']):,.0f} | {n / _f(m['seconds']):,.0f} | {_f(m['peak_mb']):,.0f} |")
    cpu_ratio = _f(parse["cpu"]) / _f(imported["cpu"])
    wall_ratio = _f(parse["seconds"]) / _f(imported["seconds"])
    lines += [
        "",
        f"Import rate / parsing-alone rate at {STUDIES:,}: **{cpu_ratio:.2f}** per CPU second, {wall_ratio:.2f} per "
        f"wall second (goal >= 0.5). Records in the store: {imported['records']:,}; store file "
        f"{_f(full['store_mb']):,.0f} MiB.",
        "",
        "| search over the store | seconds | trials |",
        "|---|---:|---:|",
        *(f"| {name} | {seconds:.3f} | {found:,} |" for name, (seconds, found) in searches.items()),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
