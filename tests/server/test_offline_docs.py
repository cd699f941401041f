"""Issue 16: ``/docs`` and ``/redoc`` work offline: every asset they name is served by Equipoise itself."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from benchmarks.load_generator import ServerProcess

from tests.server.conftest import Api

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
ABSOLUTE = re.compile(r"""https?://[^\s"'<>)]+""")
# Chromium with every host name unresolvable except the server's own address: the hospital network.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_page_names_no_outside_url_and_every_asset_it_names_is_served(api: Api, page: str) -> None:
    response = api.client.get(page)
    assert response.status_code == 200
    html = response.text
    assert ABSOLUTE.findall(html) == []
    assets = ASSET.findall(html)
    assert any(a.endswith(".js") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), asset
        assert api.client.get(asset).status_code == 200, asset
    assert "/openapi.json" in html


def test_swagger_ui_oauth2_redirect_page_still_answers(api: Api) -> None:
    response = api.client.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert ABSOLUTE.findall(response.text) == []


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(f"sqlite:///{tmp_path / 'docs.sqlite3'}", workers=1).start()
    yield process
    process.stop()


def _chromium(chromium_path: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([chromium_path, "--headless", "--no-sandbox", "--disable-gpu", OFFLINE,
                           f"--user-data-dir={profile}", "--virtual-time-budget=15000", *arguments],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.chromium
@pytest.mark.parametrize(("page", "rendered"), [("/docs", 'class="opblock-summary-path"'),
                                                ("/redoc", "Equipoise trial server")])
def test_the_page_renders_the_api_in_chromium_without_internet(chromium_path: str, server: ServerProcess,
                                                               tmp_path: Path, page: str, rendered: str) -> None:
    url = f"{server.base}{page}"
    dom = _chromium(chromium_path, tmp_path / "profile", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert rendered in dom.stdout
    assert "/health" in dom.stdout  # an operation of the API, listed by the rendered page
    assert "/api/auth/login" in dom.stdout
    screenshot = tmp_path / f"{page.strip('/')}.png"
    shot = _chromium(chromium_path, tmp_path / "profile", "--window-size=1280,900", f"--screenshot={screenshot}",
                     url)
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.stat().st_size > 10_000  # a blank page is a few kilobytes
