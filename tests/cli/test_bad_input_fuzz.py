"""Hypothesis fuzzing of every command that reads a file a person names: arbitrary bytes and mutations of a valid
file must end in exit 0 (the file was fine) or 2 (a clear refusal), never 1 (internal error) or a traceback.

Each command gets a bounded number of examples so the module runs in well under a minute; a failure Hypothesis
finds is shrunk to a small file, which belongs in tests/cli/test_bad_input_*.py as a named regression case.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = ROOT / "examples" / "covid19-msc-rct.yaml"
SINGLE_ARM = ROOT / "examples" / "covid19-msc-single-arm.yaml"
DEMO = ROOT / "examples" / "data" / "msc-rct-demo.csv"
SCREENING = ROOT / "examples" / "data" / "msc-rct-demo-screening.csv"
EVENTS = ROOT / "examples" / "data" / "msc-rct-demo-ae.csv"
DESIGN = ROOT / "examples" / "mesoblast-like-design.json"
LOOKS = ROOT / "examples" / "mesoblast-like-interim.csv"
NATURAL_HISTORY = ROOT / "src" / "equipoise" / "simulate" / "natural_history" / "covid19.yaml"

# Tokens that broke readers in the adversarial run of issue 14, spliced into valid files.
HOSTILE = [b"\x00", b"\x01", b"\x1b", b"\r", b"\xff\xfe", b"&a [*a]", b"*a", b"!foo ", b"!!python/object:os ",
           b"9" * 4400, b"1e308", b"-1e308", b".nan", b".inf", b"NaN", b"inf", b"[[[[[[[[", b"{", b"<<: ", b";",
           b"\t", b'"', b"'", b"-", b": ", b"\n", b"  ", b"- ", b"0", b"-1", b"1e18", b"\xe2\x80\xae"]


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """A valid file with a few lines dropped or repeated and a few hostile or random tokens spliced in."""
    lines = original.split(b"\n")
    for _ in range(draw(st.integers(0, 2))):
        i = draw(st.integers(0, len(lines) - 1))
        if draw(st.booleans()):
            del lines[i]
        else:
            lines.insert(i, lines[i])
    data = b"\n".join(lines)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        token = draw(st.sampled_from(HOSTILE) | st.binary(min_size=1, max_size=8))
        cut = draw(st.integers(0, 6))
        data = data[:at] + token + data[at + cut:]
    return data


def file_contents(original: Path) -> st.SearchStrategy[bytes]:
    return st.binary(max_size=300) | mutated(original.read_bytes())


def _check(run_cli: Callable[..., object], path: Path, data: bytes, args: list[object]) -> None:
    path.write_bytes(data)
    result = run_cli(*args)
    code, out, err = result.code, result.stdout, result.stderr  # type: ignore[attr-defined]
    assert code in (0, 2), (data[:400], code, out[-400:], err[-800:])
    assert "internal error" not in err, (data[:400], err)
    assert "Traceback" not in err, (data[:400], err)


# EQUIPOISE_FUZZ_EXAMPLES=500 for a longer hunt; the default keeps the suite fast.
FUZZ = settings(max_examples=int(os.environ.get("EQUIPOISE_FUZZ_EXAMPLES", "20")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

# (command, the valid file it reads, where the fuzzed file goes in the arguments: "FILE" marks it)
COMMANDS: dict[str, tuple[Path, list[object]]] = {
    "protocol validate": (PROTOCOL, ["protocol", "validate", "FILE"]),
    "protocol show": (PROTOCOL, ["protocol", "show", "FILE"]),
    "design protocol": (PROTOCOL, ["design", "protocol", "FILE", "--json"]),
    "simulate single-arm": (SINGLE_ARM, ["simulate", "single-arm", "FILE", "-n", "20", "--json"]),
    "simulate natural history": (NATURAL_HISTORY, ["simulate", "single-arm", SINGLE_ARM, "-n", "20",
                                                   "--natural-history", "FILE", "--json"]),
    "analyze binary": (DEMO, ["analyze", "binary", "--data", "FILE", "--outcome", "died", "--control", "placebo"]),
    "analyze ordinal": (DEMO, ["analyze", "ordinal", "--data", "FILE", "--outcome", "who_day28", "--control",
                               "placebo"]),
    "analyze continuous": (DEMO, ["analyze", "continuous", "--data", "FILE", "--outcome", "age", "--control",
                                  "placebo"]),
    "analyze survival": (DEMO, ["analyze", "survival", "--data", "FILE", "--time", "age", "--event", "died",
                                "--control", "placebo"]),
    "analyze protocol (data)": (DEMO, ["analyze", "protocol", PROTOCOL, "--data", "FILE", "--primary-only"]),
    "analyze protocol (protocol)": (PROTOCOL, ["analyze", "protocol", "FILE", "--data", DEMO, "--primary-only"]),
    "analyze interim (design)": (DESIGN, ["analyze", "interim", "--design", "FILE", "--looks", LOOKS, "--better",
                                          "lower"]),
    "analyze interim (looks)": (LOOKS, ["analyze", "interim", "--design", DESIGN, "--looks", "FILE", "--better",
                                        "lower"]),
    "report open (screening)": (SCREENING, ["report", "open", "--protocol", PROTOCOL, "--data", DEMO, "--screening",
                                            "FILE", "-o", "OUT"]),
    "report dmc (events)": (EVENTS, ["report", "dmc", "--protocol", PROTOCOL, "--data", DEMO, "--adverse-events",
                                     "FILE", "-o", "OUT"]),
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_fuzzed_file_is_read_or_refused_never_a_crash(run_cli, tmp_path, name):
    original, template = COMMANDS[name]
    path = tmp_path / f"fuzzed{original.suffix}"
    args = [path if a == "FILE" else tmp_path / "report.html" if a == "OUT" else a for a in template]

    @FUZZ
    @given(data=file_contents(original))
    def run(data: bytes) -> None:
        _check(run_cli, path, data, args)

    run()


def test_a_fuzzed_protocol_creates_a_trial_or_no_database(run_cli, tmp_path):
    path = tmp_path / "fuzzed.yaml"
    counter = iter(range(10_000))

    @FUZZ
    @given(data=file_contents(PROTOCOL))
    def run(data: bytes) -> None:
        db = tmp_path / f"db{next(counter)}.sqlite3"
        _check(run_cli, path, data, ["trial", "create", path, "--db", f"sqlite:///{db}"])
        result = run_cli("trial", "list", "--db", f"sqlite:///{db}")
        assert result.code in (0, 2)

    run()
