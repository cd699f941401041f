"""The living meta-analysis at /evidence in Chromium: the pooled estimate, the forest, cumulative and
trial-sequential plots and the certainty summary of examples/evidence/msc-covid-mortality.csv, and the note on
how to import registry records (no registry store in the test server); in English and in Chinese."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import Server, visit

pytestmark = pytest.mark.chromium


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
