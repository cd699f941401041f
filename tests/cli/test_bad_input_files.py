"""Hostile and broken files through every file-reading command: one clear line naming the file (and line), exit 2.

The cases come from the adversarial run of issue 14 (control characters, self-referencing anchors, deep nesting,
huge integers, unknown tags, /dev/zero, billion laughs) and from this module's own extension of them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from equipoise.protocol import validate_text
from equipoise.user_files import MAX_PROTOCOL_BYTES

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = ROOT / "examples" / "covid19-msc-rct.yaml"
DEMO = ROOT / "examples" / "data" / "msc-rct-demo.csv"

BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{q}: &{q} [{', '.join(['*' + p] * 9)}]\n" for p, q in zip("abcdefgh", "bcdefghi", strict=True))

BAD_YAML = {
    "self_reference": ("a: &a [*a]\n", 1, "contains itself"),
    "self_reference_mapping": ("x: 1\na: &a {b: *a}\n", 2, "contains itself"),
    "billion_laughs": (BILLION_LAUGHS, None, "expands to more than"),
    "deep_flow": ("a: " + "[" * 3000 + "]" * 3000 + "\n", 1, "nested more than 64 levels"),
    "deep_block": "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v: 1\n",
    "huge_integer": ("trial:\n  id: X\n  n: " + "9" * 5000 + "\n", 3, "more than 4,300 digits"),
    "unknown_scalar_tag": ("trial: !foo bar\n", 1, "!foo"),
    "unknown_collection_tag": ("x: 1\ntrial: !foo {id: X}\n", 2, "!foo"),
    "python_object_tag": ("trial: !!python/object/apply:os.system [echo hi]\n", 1, "python/object"),
    "nul_byte": ("trial:\n  id: X\x00\n", 2, "NUL byte"),
    "bell": ("trial:\n  title: ring\x07\n", 2, "U+0007"),
    "escape": ("trial:\n  id: X\n  title: \x1b[31mred\n", 3, "U+001B"),
    "merge_of_a_scalar": ("a: &a 1\nb:\n  <<: *a\n", 3, "merge key"),
    "escaped_nul": ("x: 1\ntrial: {title: \"a\\x00b\"}\n", 2, "U+0000 (written as an escape)"),
    "escaped_bell": ("x: 1\ntrial: {title: \"a\\u0007b\"}\n", 2, "U+0007 (written as an escape)"),
}
BAD_YAML["deep_block"] = (BAD_YAML["deep_block"], None, "nested more than 64 levels")  # type: ignore[assignment]


@pytest.mark.parametrize("name", sorted(BAD_YAML))
def test_a_hostile_protocol_is_refused_with_its_file_and_line(run_cli, tmp_path, name):
    text, line, message = BAD_YAML[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    result = run_cli("protocol", "validate", path)
    assert result.code == 2, result
    assert message in result.stdout, result.stdout
    where = f"{path}:{line}:" if line is not None else f"{path}:"
    assert where in result.stdout, result.stdout
    assert "internal error" not in result.stderr
    assert "Traceback" not in result.stderr


def test_yaml_merge_keys_still_work_under_the_value_budget():
    report = validate_text(PROTOCOL.read_text(encoding="utf-8").replace(
        "trial:\n", "x-defaults: &defaults\n  acronym: MSC-RCT\ntrial:\n  <<: *defaults\n", 1), "merged.yaml")
    assert not [p for p in report.errors if "merge" in p.message or "alias" in p.message], report


@pytest.mark.parametrize("command", [
    ["protocol", "validate"], ["protocol", "show"], ["design", "protocol"], ["simulate", "protocol"],
])
@pytest.mark.parametrize("target", ["/dev/zero", "fifo", "directory", "too_big", "latin1"])
def test_a_file_that_is_not_a_text_file_is_refused_before_it_is_read(run_cli, tmp_path, command, target):
    path = tmp_path / target
    if target == "/dev/zero":
        path = Path("/dev/zero")
        expected = "not a regular file"
    elif target == "fifo":
        os.mkfifo(path)
        expected = "not a regular file"
    elif target == "directory":
        path.mkdir()
        expected = "is a directory"
    elif target == "too_big":
        path.write_bytes(b"# " + b"x" * MAX_PROTOCOL_BYTES + b"\n")
        expected = "the limit for this file is 4.0 MB"
    else:
        path.write_bytes("trial:\n  id: X\n  title: Hôpital\n".encode("latin-1"))
        expected = "3: is not UTF-8 text"
    result = run_cli(*command, path)
    assert result.code == 2, result
    output = result.stdout + result.stderr
    assert str(path) in output, output
    assert expected in output, output
    assert "internal error" not in output
    assert "Traceback" not in output


@pytest.mark.parametrize(("content", "expected"), [
    (None, "is a directory"),
    (b"arm,died\nplacebo,0\x00\n", "line 2: contains a NUL byte"),
    ("arm,died\nplacébo,0\n".encode("latin-1"), "line 2: is not UTF-8 text"),
])
def test_a_bad_data_file_is_refused_with_its_name(run_cli, tmp_path, content, expected):
    path = tmp_path / "data.csv"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    for args in (["analyze", "binary", "--data", path, "--outcome", "died", "--control", "placebo"],
                 ["analyze", "continuous", "--data", path, "--outcome", "died", "--control", "placebo"],
                 ["analyze", "interim", "--looks", path, "--information-rates", "0.5,1"],
                 ["report", "dmc", "--protocol", PROTOCOL, "--data", DEMO, "--screening", path,
                  "-o", tmp_path / "r.html"]):
        result = run_cli(*args)
        assert result.code == 2, (args, result)
        assert expected in result.stderr, (args, result.stderr)
        assert str(path) in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("content", "expected"), [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"information_rates": [0.5, 1], "alpha": ' + "9" * 5000 + "}", "cannot read a value"),
    ("[0.5, 1]", "must hold a JSON object"),
    ('{"information_rates": [0.5, 1],\n "alpha": oops}', "line 2: not JSON"),
])
def test_a_bad_design_json_is_refused(run_cli, tmp_path, content, expected):
    path = tmp_path / "design.json"
    path.write_text(content, encoding="utf-8")
    looks = tmp_path / "looks.csv"
    looks.write_text("look,information_fraction,estimate,se\n1,0.5,0.2,0.1\n", encoding="utf-8")
    result = run_cli("analyze", "interim", "--design", path, "--looks", looks)
    assert result.code == 2, result
    assert expected in result.stderr, result.stderr


def test_a_hostile_natural_history_file_is_refused(run_cli, tmp_path):
    path = tmp_path / "history.yaml"
    path.write_text(BILLION_LAUGHS, encoding="utf-8")
    result = run_cli("simulate", "single-arm", ROOT / "examples" / "covid19-msc-single-arm.yaml",
                     "--natural-history", path, "-n", "10")
    assert result.code == 2, result
    assert f"{path}" in result.stderr
    assert "expands to more than" in result.stderr


def test_a_valid_json_design_still_reads(run_cli):
    design = json.loads((ROOT / "examples" / "mesoblast-like-design.json").read_text(encoding="utf-8"))
    assert isinstance(design, dict)
    result = run_cli("analyze", "interim", "--design", ROOT / "examples" / "mesoblast-like-design.json",
                     "--looks", ROOT / "examples" / "mesoblast-like-interim.csv", "--better", "lower", "--json")
    assert result.code == 0, result


@pytest.mark.parametrize("command", [["backup", "check"], ["backup", "check", "--quick"]])
def test_a_backup_that_is_a_device_or_pipe_is_refused(run_cli, tmp_path, command):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (Path("/dev/zero"), fifo):
        result = run_cli(*command, path)
        assert result.code == 2, result
        assert "is not a regular file" in result.stderr
