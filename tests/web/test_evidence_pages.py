"""The living meta-analysis at /evidence in Chromium: the pooled estimate, the forest, cumulative and
trial-sequential plots and the certainty summary of examples/evidence/msc-covid-mortality.csv, and the note on
how to import registry records (no registry store in the test server); in English and in Chinese. Then, in
process, the registry search and summary over an evidence store made from the example registry records."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from equipoise.evidence_store import RegistryStore, import_files
from equipoise.server import create_app
from equipoise.store.db import Database
from equipoise.web.evidence_pages import REGISTRY_ENV
from tests.conftest import ROOT
from tests.store.support import db, db_url, pg_schemas
from tests.web.conftest import Server, visit

__all__ = ["db", "db_url", "pg_schemas"]
REGISTRY = ROOT / "examples" / "evidence" / "registry"


@pytest.mark.chromium
def test_the_living_meta_analysis(page: Any) -> None:
    response = page.goto("/evidence")
    print(f"\n/evidence: Server-Timing {response.headers.get('server-timing')}")
    assert page.get_by_role("heading", level=1).inner_text().startswith("The living meta-analysis")
    main = page.locator("main").inner_text()
    assert "risk ratio of death" in main
    for trial in ("Shu 2020", "Lanzoni 2021", "Bowdish 2023"):
        assert trial in main
    for heading in ("Forest plot", "How the evidence moved as trials reported",
                    "Is the evidence enough? Trial sequential analysis", "Certainty of the evidence (GRADE)",
                    "Trial registries"):
        assert page.get_by_role("heading", name=heading).is_visible()
    assert page.locator("main figure svg").count() == 3
    assert "Certainty: " in main
    assert "equipoise evidence import" in main
    visit(page, "evidence")


@pytest.mark.chromium
def test_the_living_meta_analysis_in_chinese(browser: Any, server: Server) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN", base_url=server.base)
    page = context.new_page()
    try:
        page.goto("/evidence")
        assert page.locator("html").get_attribute("lang") == "zh-Hans"
        assert "荟萃分析" in page.get_by_role("heading", level=1).inner_text()
        visit(page, "evidence-zh")
    finally:
        context.close()


def test_registry_search_and_summary_when_a_store_is_configured(db: Database, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    store_path = tmp_path / "evidence.duckdb"
    with RegistryStore.open(store_path) as store:
        import_files([REGISTRY / "ctgov-msc-covid-search-page.json", REGISTRY / "ictrp-msc-covid.csv"], store)
        everything = store.count_matching()
        mesenchymal = store.count_matching(intervention="mesenchymal")
    monkeypatch.setenv(REGISTRY_ENV, str(store_path))
    with TestClient(create_app(db)) as client:
        page = client.get("/evidence", headers={"accept": "text/html"}).text
        assert f"Of {everything} registered trials:" in page
        assert 'for="field-condition"' in page
        assert "No registry store is configured" not in page
        found = client.get("/evidence", params={"intervention": "mesenchymal"}, headers={"accept": "text/html"}).text
        assert f"Of {mesenchymal} registered trials:" in found
        assert re.search(rf"of {mesenchymal} matching trials", found)
        assert "NCT0" in found
