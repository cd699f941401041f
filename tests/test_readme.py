"""Every command block of README.md runs as written, in order, after `make run` (issue 17).

The README is parsed here: each fenced block marked ``sh`` is a list of commands to run (a line ending in ``\\``
continues on the next; comments and blank lines are skipped); blocks marked ``text`` or unmarked are synopses
with placeholders (``[--site S]``, ``<token>``, ``csv|odm``) and are not run. The commands run in a scratch
directory laid out like a checkout after `make run`: ``examples/`` (a link to the real one), ``.venv/bin/equipoise``
(this Python's Equipoise) and ``.equipoise-demo/`` filled by the Makefile's own ``run`` recipe with ``--no-serve``.
`make test` and `make lint` are this suite itself, `make bench` and `make validation` are long runs of their own:
those four are checked to be Makefile targets, not run.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```", re.S | re.M)
NOT_RUN = {"make test", "make lint", "make bench", "make validation"}


@dataclass(frozen=True)
class Command:
    line: int  # in README.md, 1-based
    text: str


def readme_commands(text: str) -> list[Command]:
    """The commands of the README's ``sh`` blocks, in order, continuation lines joined."""
    commands: list[Command] = []
    for block in FENCE.finditer(text):
        if block.group("lang") != "sh":
            continue
        first = text.count("\n", 0, block.start("body")) + 1
        pending: list[str] = []
        start = first
        for offset, raw in enumerate(block.group("body").splitlines()):
            line = raw.rstrip()
            if not pending:
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                start = first + offset
            pending.append(line[:-1] if line.endswith("\\") else line)
            if not line.endswith("\\"):
                commands.append(Command(start, " ".join(part.strip() for part in pending)))
                pending = []
        assert not pending, f"README.md:{start}: a command ends with '\\' at the end of its block"
    return commands


def make_run_command(makefile: str) -> str:
    """The Makefile's ``run`` recipe (what `make run` does), without serving."""
    recipe = re.search(r"^run:.*\n\t(?P<command>.+)$", makefile, re.M)
    assert recipe, "the Makefile has no run target"
    return recipe.group("command").replace("$(BIN)", ".venv/bin") + " --no-serve"


def test_readme_commands_are_parsed_from_its_sh_blocks():
    commands = readme_commands("intro\n```sh\n# a comment\nmake run   # starts\n.venv/bin/equipoise a \\\n"
                               "    --b c\n\n```\n```text\nequipoise serve [--db URL]\n```\n")
    assert commands == [Command(4, "make run   # starts"), Command(5, ".venv/bin/equipoise a --b c")]
    assert make_run_command("run: $(STAMP)\n\t$(BIN)/equipoise demo --data-dir .equipoise-demo\n") == (
        ".venv/bin/equipoise demo --data-dir .equipoise-demo --no-serve")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A scratch directory laid out like a checkout: examples/ and .venv/bin/equipoise."""
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    (tmp_path / "Makefile").symlink_to(ROOT / "Makefile")
    binary = tmp_path / ".venv" / "bin" / "equipoise"
    binary.parent.mkdir(parents=True)
    binary.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m equipoise "$@"\n', encoding="utf-8")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return tmp_path


@pytest.mark.slow
def test_every_command_of_the_readme_runs_as_written_after_make_run(checkout: Path, chromium_path: str):
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    commands = readme_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(commands) > 30
    env = {k: v for k, v in os.environ.items() if not k.startswith("EQUIPOISE_")}
    # Nothing may reach the user's own data: a command without --db would open this empty directory instead.
    # The audit key lives outside any database (docs/operations.md): the checkout's own, not the user's.
    env.update(EQUIPOISE_DATA_DIR=str(checkout / "no-default-database"), MPLBACKEND="Agg", HOME=str(checkout),
               EQUIPOISE_AUDIT_KEY_FILE=str(checkout / "audit-keys"))
    failures: list[str] = []
    for command in commands:
        words = command.text.split("#", 1)[0].split()
        if " ".join(words[:2]) in NOT_RUN:
            assert re.search(rf"^{words[1]}:", makefile, re.M), f"README.md:{command.line}: no make target {words[1]}"
            continue
        text = make_run_command(makefile) if words[:2] == ["make", "run"] else command.text
        result = subprocess.run(["bash", "-c", text], cwd=checkout, env=env, capture_output=True, text=True,
                                timeout=600, check=False)
        if result.returncode != 0:
            failures.append(f"README.md:{command.line}: exit {result.returncode}: {command.text}\n"
                            f"{result.stderr.strip()[-2000:]}")
    assert not failures, "\n\n".join(failures)
    assert not (checkout / "no-default-database").exists(), "a README command opened the default database"
