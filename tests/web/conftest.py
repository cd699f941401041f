"""The web pages in a real browser: one ``equipoise serve`` process over a small demo database (``equipoise demo
--no-serve``), Debian's Chromium driven by Playwright, screenshots at laptop and tablet widths, and axe-core.

Chromium must be at /usr/bin/chromium (no browser is downloaded): outside CI its absence skips these tests, in
CI (CI=true) it fails them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, require_service

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
TRIAL = "MSC-COVID-RCT"
PASSWORD = "equipoise-demo"  # the demo users' password (equipoise.cli.serve_commands.DEMO_PASSWORD)
MAX_FAILED_LOGINS = 3  # the server's lockout after this many wrong passwords (EQUIPOISE_MAX_FAILED_LOGINS)
SIZES = {"laptop": (1366, 900), "tablet": (820, 1180)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"equipoise serve stopped (exit code {process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"equipoise serve did not answer {url} within {seconds:.0f} s")


@dataclass(frozen=True)
class Server:
    base: str
    db_url: str

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, audit_key_file: Path) -> Iterator[Server]:
    """A real ``equipoise serve`` over a demo database with a dozen virtual patients and one user per role."""
    folder = tmp_path_factory.mktemp("web-server")
    db_url = f"sqlite:///{folder / 'equipoise.sqlite3'}"
    env = {**os.environ, "EQUIPOISE_AUDIT_KEY_FILE": str(audit_key_file),
           "EQUIPOISE_MAX_FAILED_LOGINS": str(MAX_FAILED_LOGINS)}
    env.pop("EQUIPOISE_DATABASE_URL", None)
    demo = subprocess.run([sys.executable, "-m", "equipoise", "demo", "--no-serve", "--db", db_url, "--protocol",
                           str(ROOT / "examples" / "covid19-msc-rct.yaml"), "--patients", "12", "--seed", "7"],
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert demo.returncode == 0, demo.stderr
    port = _free_port()
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "equipoise", "serve", "--db", db_url, "--port", str(port)],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for(f"http://127.0.0.1:{port}/health", process)
        yield Server(f"http://127.0.0.1:{port}", db_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    require_service("Chromium", CHROMIUM.exists(), f"{CHROMIUM} is missing (Debian package chromium)")
    from playwright.sync_api import sync_playwright  # lazily: only these tests need Playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    """A fresh browser tab (no cookies) at laptop width, in English."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB", base_url=server.base)
    tab = context.new_page()
    yield tab
    context.close()


def sign_in(page: Any, username: str, password: str = PASSWORD) -> None:
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def shoot(page: Any, name: str) -> None:
    """Screenshots of the whole page at laptop and tablet widths: test-artifacts/screenshots/<name>-<size>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{size}.png"), full_page=True)
    page.set_viewport_size(before)


def check_axe(page: Any) -> None:
    """axe-core on the page as it is: no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe  # lazily: only these tests need it

    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert not bad, "\n".join(f"{v['id']} ({v['impact']}): {v['help']} at "
                              f"{[n['target'] for n in v['nodes']][:3]}" for v in bad)


def visit(page: Any, name: str) -> None:
    """Every page a test shows: screenshotted at both widths and checked with axe."""
    shoot(page, name)
    check_axe(page)


