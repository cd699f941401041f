"""The demo trial filled with virtual patients, built once per session through the real CLI (``equipoise demo``),
on SQLite; the tests read it (those that change it make a copy)."""

from __future__ import annotations

import contextlib
import io
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from equipoise.cli.main import main
from tests.store.support import DEMO

TRIAL = "MSC-COVID-RCT"
AS_OF = "2025-06-30"  # in the past, so the population does not depend on today's date
SEED = "7"
PATIENTS = 60


@dataclass(frozen=True)
class Cli:
    code: int
    stdout: str
    stderr: str


def cli(*args: str | Path) -> Cli:
    """Run ``equipoise`` in this process through its real entry point (usable outside function scope)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    code = exit_info.value.code
    return Cli(code if isinstance(code, int) else (0 if code is None else 1), out.getvalue(), err.getvalue())


def demo(directory: Path, *extra: str) -> Cli:
    return cli("demo", "--no-serve", "--data-dir", directory, "--protocol", DEMO, "--patients", str(PATIENTS),
               "--as-of", AS_OF, "--seed", SEED, *extra)


@dataclass(frozen=True)
class Demo:
    directory: Path
    first: Cli  # output of the run that filled it

    @property
    def url(self) -> str:
        return f"sqlite:///{self.directory / 'equipoise.sqlite3'}"

    def copy(self, target: Path) -> str:
        """A copy of the demo database (for tests that change it); returns its URL."""
        target.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(self.directory / "equipoise.sqlite3")
        copy = sqlite3.connect(target / "equipoise.sqlite3")
        with source, copy:
            source.backup(copy)  # a consistent copy of the WAL database
        source.close()
        copy.close()
        return f"sqlite:///{target / 'equipoise.sqlite3'}"


@pytest.fixture(scope="session")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    directory = tmp_path_factory.mktemp("demo")
    first = demo(directory)
    assert first.code == 0, first.stderr
    yield Demo(directory, first)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def strong_effect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """240 patients with a daily odds ratio of 4 for MSC: enough that every estimate leans the true way whatever
    the server's (secret, random) allocations. With the 60 patients of ``effective`` the day-28 common odds
    ratio ranged from about 0.8 to 9 between runs, and a sign test on it failed now and then."""
    directory = tmp_path_factory.mktemp("demo-strong-effect")
    result = cli("demo", "--no-serve", "--data-dir", directory, "--protocol", DEMO, "--patients", "240",
                 "--as-of", AS_OF, "--seed", SEED, "--effect", "4")
    assert result.code == 0, result.stderr
    yield Demo(directory, result)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def effective(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The same population (seed, date) with a strong treatment effect: a daily odds ratio of 4 for MSC."""
    directory = tmp_path_factory.mktemp("demo-effect")
    first = demo(directory, "--effect", "4")
    assert first.code == 0, first.stderr
    yield Demo(directory, first)
    shutil.rmtree(directory, ignore_errors=True)
