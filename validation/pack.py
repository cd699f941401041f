"""Write VALIDATION.md: every requirement of ``docs/traceability.md`` with the outcome of each of its tests.

``make validation`` runs the whole test suite once (``CI=true``: PostgreSQL and Chromium tests must run) with a
JUnit XML report, then joins it with the matrix: per requirement its status, and per listed test how many of
its runs (one per database, say) passed, failed or were skipped. A requirement whose tests all passed is
``verified``; one with a failed or missing test says so. The pack names the commit, the date and the machine,
so it documents one release (GAMP 5 / E6(R3) §4.3.4: validation evidence per version).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MATRIX = ROOT / "docs" / "traceability.md"


@dataclass(frozen=True)
class Requirement:
    id: str
    text: str
    tests: tuple[str, ...]
    status: str


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().removeprefix("|").removesuffix("|").split("|")]


def requirements(matrix: str) -> list[Requirement]:
    """The rows of the matrix's table (ID | requirement | mechanism | tests | status)."""
    out = []
    for line in matrix.splitlines():
        row = cells(line) if line.startswith("|") else []
        if len(row) == 5 and row[0][:3].isalpha() and row[0][:3].isupper() and "-" in row[0]:
            tests = tuple(t.strip().strip("`") for t in row[3].split("<br>") if t.strip() not in ("", "—", "-"))
            out.append(Requirement(row[0], row[1], tests, row[4]))
    return out


def outcomes(junit: str) -> dict[str, Counter[str]]:
    """Node id (``tests/x.py::test_y``, parameters dropped) -> counts of passed, failed and skipped runs."""
    result: dict[str, Counter[str]] = {}
    for case in ET.fromstring(junit).iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "").split("[", 1)[0]
        parts = classname.split(".")
        # pytest writes the module path, then the class if any: the file ends at the longest prefix that is one.
        cut = next((c for c in range(len(parts), 0, -1) if (ROOT / Path(*parts[:c])).with_suffix(".py").is_file()),
                   len(parts))
        node = "/".join(parts[:cut]) + ".py::" + "::".join([*parts[cut:], name])
        kind = ("failed" if case.find("failure") is not None or case.find("error") is not None
                else "skipped" if case.find("skipped") is not None else "passed")
        result.setdefault(node, Counter())[kind] += 1
    return result


def verdict(requirement: Requirement, runs: dict[str, Counter[str]]) -> str:
    if not requirement.tests:
        return "no test listed"
    counts = [runs.get(t, Counter()) for t in requirement.tests]
    if any(c["failed"] for c in counts):
        return "FAILED"
    if any(not c["passed"] for c in counts):
        return "not run"
    return "verified"


def build(matrix: str, junit: str, header: list[str]) -> str:
    runs = outcomes(junit)
    reqs = requirements(matrix)
    totals = Counter[str]()
    for counts in runs.values():
        totals.update(counts)
    verdicts = {r.id: verdict(r, runs) for r in reqs}
    built = Counter("built" if r.status == "built" else r.status.split(":", 1)[0] for r in reqs)
    lines = [*header, "",
             f"Test runs: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped. "
             f"Requirements: {built['built']} built, {built['partly built']} partly built, {built['not built']} not "
             f"built (the matrix's status); {Counter(verdicts.values())['verified']} of {len(reqs)} have every listed "
             "test passing (verdict: verified; for a partly built requirement that covers what is built).", "",
             "| ID | requirement | status (traceability matrix) | tests: passed/failed/skipped runs | verdict |",
             "|---|---|---|---|---|"]
    for r in reqs:
        tests = "<br>".join(f"`{t}` {runs.get(t, Counter())['passed']}/{runs.get(t, Counter())['failed']}/"
                            f"{runs.get(t, Counter())['skipped']}" for t in r.tests) or "—"
        lines.append(f"| {r.id} | {r.text} | {r.status} | {tests} | {verdicts[r.id]} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "junit.xml"
        code = subprocess.run([sys.executable, "-m", "pytest", "-q", f"--junitxml={report}"], cwd=ROOT,
                              env={**os.environ, "CI": os.environ.get("CI", "true")}).returncode
        junit = report.read_text(encoding="utf-8")
    header = ["# Validation pack", "",
              f"Commit {commit or 'unknown'}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, Python "
              f"{platform.python_version()} on {platform.machine()}; `make validation` (the whole test suite, "
              f"CI={os.environ.get('CI', 'true')}, joined with `docs/traceability.md`)."]
    (ROOT / "VALIDATION.md").write_text(build(MATRIX.read_text(encoding="utf-8"), junit, header), encoding="utf-8")
    print("wrote VALIDATION.md", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
