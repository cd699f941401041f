"""The CLI starts fast: importing its entry point loads no subcommand's heavy dependencies (issue 18).

Start-up time itself is measured in benchmarks (CPU time of ``equipoise --version``), never asserted here; what a
test can hold fixed is what the entry point imports.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
import typer.main

from equipoise.cli.main import COMMANDS, EquipoiseGroup, app
from tests.conftest import CliResult

HEAVY = ("fastapi", "sqlalchemy", "pandas", "numpy", "scipy", "equipoise.server", "equipoise.store")


def _imported_by(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return result.stderr.split()


def test_importing_the_entry_point_imports_no_heavy_module() -> None:
    assert _imported_by("import equipoise.cli.main") == []


def test_version_and_help_import_no_heavy_module() -> None:
    for args in (["--version"], ["--help"]):
        code = (f"from equipoise.cli.main import main\ntry:\n    main({args!r})\nexcept SystemExit:\n    pass")
        assert _imported_by(code) == [], args


def test_help_lists_every_command_with_its_own_help(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("--help")
    assert result.code == 0
    for name in COMMANDS:
        assert f"  {name} " in result.stdout, name
    group = typer.main.get_command(app)
    assert isinstance(group, EquipoiseGroup)
    ctx = typer.Context(group)
    for name, lazy in COMMANDS.items():
        command = group.get_command(ctx, name)
        assert command is not None, name
        assert command.help is not None, name
        own = " ".join(command.help.split("\n\n")[0].split())
        assert lazy.help == own, f"{name}: the help in cli/main.py COMMANDS differs from the command's own"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_loads_and_answers_help(run_cli: Callable[..., CliResult], name: str) -> None:
    result = run_cli(name, "--help")
    assert result.code == 0, result.stderr
    assert f"Usage: equipoise {name}" in result.stdout
