"""The CLI's shared pieces: option groups declared once (design sample-size and power) and one output helper
(text or JSON, then the plot)."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from equipoise.cli.design_options import EffectOptions, ErrorOptions, LooksOptions
from equipoise.cli.output import show
from equipoise.errors import UserError


def _options(help_text: str) -> list[str]:
    return re.findall(r"^  (--[a-z-]+)", help_text, flags=re.MULTILINE)


def test_sample_size_and_power_offer_each_shared_option_once_in_the_groups_order(run_cli):
    sample_size = _options(run_cli("design", "sample-size", "--help").stdout)
    power = _options(run_cli("design", "power", "--help").stdout)
    for group in (EffectOptions, ErrorOptions, LooksOptions):
        names = [f"--{f.name.replace('_', '-')}" for f in dataclasses.fields(group)]
        for listed in (sample_size, power):
            assert [o for o in listed if o in names] == names
            assert len(set(listed)) == len(listed)


def test_shared_options_reach_the_computation(run_cli):
    power = run_cli("design", "power", "--outcome", "binary", "--p-control", "0.4", "--p-treatment", "0.25",
                    "--n-total", "300", "--looks", "3", "--futility-spending", "obf", "--json")
    assert power.code == 0, power.stderr
    design = json.loads(power.stdout)["design"]
    assert design["looks"] == 3
    assert design["futility_spending"] == "obf"


@dataclass(frozen=True)
class _Result:
    value: float

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value}

    def __str__(self) -> str:
        return f"value {self.value:g}"

    def plot(self) -> Any:
        raise AssertionError("no plot was asked for")


def test_show_prints_text_or_json_with_the_extra_results(capsys):
    show(_Result(1.5), False, extra={"posterior": _Result(0.9), "none": None})
    assert capsys.readouterr().out == "value 1.5\n  value 0.9\n"
    show(_Result(1.5), True, extra={"posterior": _Result(0.9)})
    assert json.loads(capsys.readouterr().out) == {"value": 1.5, "posterior": {"value": 0.9}}


def test_a_plot_file_must_be_a_picture(tmp_path):
    with pytest.raises(UserError, match=r"must end in \.png, \.svg or \.pdf"):
        show(_Result(1.0), False, tmp_path / "result.txt")
