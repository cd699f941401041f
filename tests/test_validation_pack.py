"""VAL-1: the validation pack joins the traceability matrix with the test outcomes and says, per requirement,
whether its tests passed (``validation/pack.py``, written by ``make validation``)."""

from __future__ import annotations

from validation.pack import build, outcomes, requirements

MATRIX = """
| ID | requirement (short) | mechanism | tests | status |
|---|---|---|---|---|
| RND-2 | Idem | `x` | tests/store/test_enrol_randomize.py::test_a<br>tests/allocate/test_replay.py::test_b | built |
| UNB-1 | Emergency unblinding | `store/unblinding.py` | tests/server/test_walkthrough.py::test_c | built |
| RND-6 | Factorial parts | — | — | not built: one randomization per patient |
| AUD-8 | Nightly verification | `store/verify.py` | tests/store/test_audit_trail.py::test_d | built |
"""

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="tests.store.test_enrol_randomize" name="test_a[sqlite]" time="0.1"/>
<testcase classname="tests.store.test_enrol_randomize" name="test_a[postgres]" time="0.1"/>
<testcase classname="tests.allocate.test_replay" name="test_b" time="0.1"/>
<testcase classname="tests.server.test_walkthrough" name="test_c[sqlite]" time="0.1"/>
<testcase classname="tests.server.test_walkthrough" name="test_c[postgres]" time="0.1">
  <failure message="assert 401 == 200">trace</failure></testcase>
<testcase classname="tests.store.test_audit_trail" name="test_d[postgres]" time="0.0">
  <skipped message="PostgreSQL is not running"/></testcase>
</testsuite></testsuites>
"""


def test_each_requirement_gets_the_verdict_of_its_tests():
    runs = outcomes(JUNIT)
    assert runs["tests/store/test_enrol_randomize.py::test_a"]["passed"] == 2
    assert runs["tests/server/test_walkthrough.py::test_c"]["failed"] == 1
    assert [r.id for r in requirements(MATRIX)] == ["RND-2", "UNB-1", "RND-6", "AUD-8"]
    pack = build(MATRIX, JUNIT, ["# Validation pack"])
    verdict = {line.split("|")[1].strip(): line.split("|")[-2].strip() for line in pack.splitlines()
               if line.startswith("| ") and line.split("|")[1].strip()[:3] in ("RND", "UNB", "AUD")}
    assert verdict == {"RND-2": "verified", "UNB-1": "FAILED", "RND-6": "no test listed", "AUD-8": "not run"}
    assert "4 passed, 1 failed, 1 skipped" in pack
    assert "1 of 4 have every listed test passing" in pack
    assert "3 built, 0 partly built, 1 not built" in pack
    assert "`tests/server/test_walkthrough.py::test_c` 1/1/0" in pack
