"""Keeps the traceability matrix (VAL-1, ``docs/traceability.md``: requirement → mechanism → test) honest in CI.

A matrix that names a renamed test, a deleted module or a requirement nobody listed would mislead an auditor
with nothing to show for it, so this test reads the table and checks it against the repository:

- every requirement id of the research table (section 4 of the execution anchors) is a row, exactly once;
- every listed test exists, i.e. its file exists and defines that function (or that method of that class);
- every listed mechanism module exists under ``src/equipoise`` (or, for VAL-1 itself, in the repository);
- every status is ``built``, ``partly built: <what is missing>`` or ``not built: <why>``; a ``built`` row
  lists at least one test.

The research file lives outside the repository (CI has only the repository), so the ids are listed here.
Whether a test checks what its row claims is still a reviewer's call; this test only keeps the matrix true.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from validation.pack import cells as split_cells

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "equipoise"
MATRIX = ROOT / "docs" / "traceability.md"

# The ids of the table in section 4.2 of the research file (execution-anchors.md), in its order.
REQUIREMENTS: tuple[str, ...] = (
    "AUD-1", "AUD-2", "AUD-3", "AUD-4", "AUD-5", "AUD-6", "AUD-7", "AUD-8", "AUD-9",
    "ACC-1", "ACC-2", "ACC-3", "ACC-4",
    "SIG-1", "SIG-2", "SIG-3",
    "RND-1", "RND-2", "RND-3", "RND-4", "RND-5", "RND-6", "RND-7", "RND-8", "RND-9", "RND-10", "RND-11",
    "RND-12", "RND-13",
    "UNB-1", "UNB-2",
    "EDC-1", "EDC-2", "EDC-3",
    "EXP-1", "EXP-2",
    "SEC-1",
    "RET-1",
    "VAL-1",
)
HEADER = ("ID", "requirement (short)", "mechanism", "tests", "status")
ROW_ID = re.compile(r"^[A-Z]{3}-\d+$")
STATUS = re.compile(r"^(built|partly built: \S.*|not built: \S.*)$")
BACKTICKED = re.compile(r"`([^`]+)`")
PATH = re.compile(r"^[\w.-]+(/[\w.-]+)*/?$")
NONE = {"", "—", "-"}


@dataclass(frozen=True)
class Row:
    line: int
    id: str
    requirement: str
    mechanism: str
    tests: tuple[str, ...]
    status: str


@cache
def rows() -> tuple[Row, ...]:
    """The matrix's data rows: the Markdown table whose header is ``HEADER``."""
    lines = MATRIX.read_text(encoding="utf-8").splitlines()
    start = next((n for n, line in enumerate(lines)
                  if line.startswith("|") and tuple(split_cells(line)) == HEADER), None)
    assert start is not None, f"{MATRIX}: no table with the header {' | '.join(HEADER)}"
    out: list[Row] = []
    for number, line in enumerate(lines[start + 2:], start=start + 3):
        if not line.startswith("|"):
            break
        cells = split_cells(line)
        assert len(cells) == len(HEADER), f"{MATRIX.name}:{number}: {len(cells)} cells, not {len(HEADER)}"
        tests = tuple(t.strip().strip("`") for t in cells[3].split("<br>"))
        out.append(Row(number, cells[0], cells[1], cells[2], tuple(t for t in tests if t not in NONE), cells[4]))
    assert out, f"{MATRIX}: the table has no rows"
    return tuple(out)


@cache
def _module(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _defines(module: ast.Module, names: list[str]) -> bool:
    """Whether ``module`` has a top-level function ``names[0]``, or a class ``names[0]`` with method ``names[1]``."""
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    if len(names) == 1:
        return any(isinstance(node, functions) and node.name == names[0] for node in module.body)
    if len(names) == 2:
        return any(isinstance(node, ast.ClassDef) and node.name == names[0]
                   and any(isinstance(item, functions) and item.name == names[1] for item in node.body)
                   for node in module.body)
    return False


def missing_test(node_id: str) -> str | None:
    """Why ``node_id`` names no test in this repository, or None if it does."""
    path_part, *names = node_id.split("[", 1)[0].split("::")
    path = ROOT / path_part
    if not path_part.startswith("tests/") or path.suffix != ".py" or not names:
        return f"{node_id}: not a node id of the form tests/<file>.py::<function> or ::<Class>::<method>"
    if not path.is_file():
        return f"{node_id}: no file {path_part}"
    if not _defines(_module(path), names):
        return f"{node_id}: {path_part} defines no {'.'.join(names)}"
    return None


def test_every_requirement_appears_exactly_once():
    assert len(REQUIREMENTS) == len(set(REQUIREMENTS)) == 39
    ids = Counter(row.id for row in rows())
    assert [row.id for row in rows() if not ROW_ID.match(row.id)] == []
    assert sorted(i for i, n in ids.items() if n > 1) == [], "listed more than once"
    assert [i for i in REQUIREMENTS if i not in ids] == [], "missing from the matrix"
    assert sorted(set(ids) - set(REQUIREMENTS)) == [], "not a requirement of the research table"


def test_every_listed_test_exists():
    problems = [f"{row.id}: {why}" for row in rows() for node in row.tests if (why := missing_test(node))]
    assert problems == []


def test_every_built_requirement_lists_a_test():
    assert [row.id for row in rows() if row.status == "built" and not row.tests] == []


def test_every_status_is_built_partly_built_or_not_built_with_a_reason():
    bad = [f"{MATRIX.name}:{row.line} {row.id}: {row.status!r}" for row in rows() if not STATUS.match(row.status)]
    assert bad == []
    assert [row.id for row in rows() if not row.requirement] == []


def test_every_mechanism_module_exists():
    named = [(row.id, token) for row in rows() for token in BACKTICKED.findall(row.mechanism)
             if "/" in token and PATH.match(token)]
    assert named, "no module named in the mechanism column"
    missing = [f"{rid}: {token}" for rid, token in named if not ((SRC / token).exists() or (ROOT / token).exists())]
    assert missing == []
    # A row that names no module is one whose requirement is not built.
    bare = [row.id for row in rows() if not BACKTICKED.findall(row.mechanism) and not row.status.startswith("not")]
    assert bare == []


def test_the_checks_catch_what_they_are_for():
    """The checks themselves: a wrong file, function or method is reported, a parametrized id is accepted."""
    here = "tests/test_traceability.py"
    assert missing_test(f"{here}::test_every_listed_test_exists") is None
    assert missing_test(f"{here}::test_every_listed_test_exists[sqlite-1]") is None
    assert missing_test("tests/server/test_role_matrix.py::test_role_endpoint_matrix[admin]") is None
    assert "no file" in str(missing_test("tests/no_such_file.py::test_x"))
    assert "defines no test_nothing_here" in str(missing_test(f"{here}::test_nothing_here"))
    assert "defines no Row.line" in str(missing_test(f"{here}::Row::line"))  # a field, not a method
    assert "not a node id" in str(missing_test("src/equipoise/store/audit.py::record_event"))
    assert "not a node id" in str(missing_test(here))
    module = ast.parse("class A:\n    def m(self): ...\n    async def n(self): ...\ndef f(): ...\n")
    assert _defines(module, ["A", "m"])
    assert _defines(module, ["A", "n"])
    assert _defines(module, ["f"])
    assert not _defines(module, ["m"])
    assert not _defines(module, ["A", "f"])
    assert STATUS.match("partly built: no picklist")
    assert not STATUS.match("partly built")
    assert not STATUS.match("done")
