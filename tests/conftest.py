"""Shared fixtures: the examples, the real CLI, and services that must run in CI."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
IN_CI = os.environ.get("CI") == "true"


def require_service(name: str, available: bool, reason: str) -> None:
    """Skip outside CI when a service is missing; in CI, fail loudly instead."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{name} is required in CI, but {reason}")
    pytest.skip(f"{name} not available here: {reason} (these tests run in CI)")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session", autouse=True)
def audit_key_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One audit key file for the whole run, never the developer's own (~/.local/share/equipoise/audit-keys):
    every database, CLI call and server process of the tests signs with it (subprocesses inherit it)."""
    path = tmp_path_factory.mktemp("audit-key") / "audit-keys"
    before = os.environ.get("EQUIPOISE_AUDIT_KEY_FILE")
    os.environ["EQUIPOISE_AUDIT_KEY_FILE"] = str(path)
    yield path
    if before is None:
        os.environ.pop("EQUIPOISE_AUDIT_KEY_FILE", None)
    else:
        os.environ["EQUIPOISE_AUDIT_KEY_FILE"] = before


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the CI PostgreSQL (127.0.0.1:5432, trust auth, database ``test``)."""
    url = os.environ.get("EQUIPOISE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    require_service("PostgreSQL", _port_open("127.0.0.1", 5432), "nothing listens on 127.0.0.1:5432")
    return url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    require_service("Chromium", path is not None and shutil.which("chromedriver") is not None,
                    "Debian packages chromium and chromium-driver are not installed")
    assert path is not None
    return path


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``equipoise`` in this process through its real entry point; returns code and output."""
    from equipoise.cli.main import main

    def run(*args: str | Path) -> CliResult:
        with pytest.raises(SystemExit) as exit_info:
            main([str(a) for a in args])
        out, err = capsys.readouterr()
        code = exit_info.value.code
        return CliResult(code if isinstance(code, int) else (0 if code is None else 1), out, err)

    return run
